//! Helpers shared by the gate's tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run the `cairn-gate` binary with `args` and environment `env`.
pub fn gate(args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn-gate"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A run's stdout and stderr, for assertions and their messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

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
pub mod webdriver;
