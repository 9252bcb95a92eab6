//! Helpers shared by cairn-api's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/conformance/` beside the project root, or `CAIRN_CONFORMANCE_DIR`.
/// Conformance data is required: a missing directory fails the test rather
/// than skipping it, so CI cannot pass without running the cases.
pub fn conformance_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAIRN_CONFORMANCE_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    assert!(
        dir.is_dir(),
        "conformance data not found at {} (set CAIRN_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

/// `testvectors/` at the project root.
pub fn testvectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testvectors")
}

/// Every `*.json` file below `dir`, sorted, read and parsed.
pub fn json_files(dir: &std::path::Path) -> Vec<(PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                out.push((p, v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
