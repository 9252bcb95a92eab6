//! Helpers shared by the gate's tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `cairn-gate-server-<tag>-<pid>`, empty.
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("cairn-gate-server-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub mod fixture;
