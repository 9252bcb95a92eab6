//! `testvectors/trust-file/` and `testvectors/state-file/` (spec section
//! 19) give their expected outcome with the verifier's parsers.

use std::path::Path;

use cairn_verify::state::State;
use cairn_verify::trust::{Trust, TrustError};
use serde_json::{Value, json};

fn variant(debug: &str) -> String {
    cairn_api::examples::variant_path(debug)
}

fn trust(text: &str) -> Value {
    match Trust::parse(text) {
        Ok(t) => json!({
            "logs": t.log.len(),
            "authorities": t.authorities.len(),
            "gates": t.gates.len(),
            "witnesses": t.witnesses.witnesses().iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
            "quorum": t.witnesses.quorum(),
        }),
        Err(TrustError::Line { line, .. }) => json!({ "error": "Line", "line": line }),
        Err(e) => json!({ "error": variant(&format!("{e:?}")) }),
    }
}

fn state(dir: &Path, name: &str, text: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    match State::load(&path) {
        Ok(Some(s)) => json!({ "origin": s.origin, "size": s.size, "root": s.root }),
        Ok(None) => json!({ "error": "Missing" }),
        Err(e) => json!({ "error": variant(&format!("{e:?}")) }),
    }
}

#[test]
fn trust_and_state_file_vectors_give_their_outcome() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors");
    let dir = std::env::temp_dir().join(format!("cairn-state-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    for kind in ["trust-file", "state-file"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let case: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            let text = case["text"].as_str().unwrap();
            let got = match kind {
                "trust-file" => trust(text),
                _ => state(&dir, "state.json", text),
            };
            assert_eq!(got, case["expected"], "{}", f.display());
            n += 1;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(n >= 20, "only {n} vectors");
}
