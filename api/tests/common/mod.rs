//! Helpers shared by cairn-api's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `conformance/` in the repository, or `CAIRN_CONFORMANCE_DIR`.
/// Conformance data is required: a directory without the expected layout
/// fails the test with its path named, rather than skipping the cases.
pub fn conformance_dir() -> PathBuf {
    let (dir, from) = match std::env::var_os("CAIRN_CONFORMANCE_DIR") {
        Some(dir) => (PathBuf::from(dir), "CAIRN_CONFORMANCE_DIR"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance"),
            "the repository",
        ),
    };
    for sub in [
        "rfc6962-sha256/inclusion",
        "rfc6962-sha256/consistency",
        "signed-note/cases.json",
    ] {
        assert!(
            dir.join(sub).exists(),
            "conformance data from {from} at {} has no {sub}: unset CAIRN_CONFORMANCE_DIR \
             to use the repository's conformance/",
            dir.display()
        );
    }
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
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display())).path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
                let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
                out.push((p, v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
