//! The auditor's files (spec section 19): trust files and state files,
//! parsed or refused. Checked by `verifier-cli/tests/testvectors_files.rs`
//! (the parsers are the verifier's).

use cairn_api::examples;
use cairn_verify::trust::{Trust, TrustError};
use serde_json::{Value, json};

use crate::vectors::Case;

/// A trust file's summary, or its error (with the line).
pub fn trust_outcome(text: &str) -> Value {
    match Trust::parse(text) {
        Ok(t) => json!({
            "logs": t.log.len(),
            "authorities": t.authorities.len(),
            "gates": t.gates.len(),
            "witnesses": t.witnesses.witnesses().iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
            "quorum": t.witnesses.quorum(),
        }),
        Err(TrustError::Line { line, .. }) => json!({ "error": "Line", "line": line }),
        Err(e) => json!({ "error": examples::variant_path(&format!("{e:?}")) }),
    }
}

/// A state file's fields, or its error.
pub fn state_outcome(text: &str) -> Value {
    let path = std::env::temp_dir().join(format!("cairn-state-vector-{}.json", std::process::id()));
    let r = std::fs::write(&path, text)
        .map_err(|e| e.to_string())
        .and_then(|()| cairn_verify::state::State::load(&path).map_err(|e| format!("{e:?}")));
    let _ = std::fs::remove_file(&path);
    match r {
        Ok(Some(s)) => json!({ "origin": s.origin, "size": s.size, "root": s.root }),
        Ok(None) => json!({ "error": "Missing" }),
        Err(e) => json!({ "error": examples::variant_path(&e) }),
    }
}

/// The cases.
pub fn cases(out: &mut Vec<Case>) {
    let log = examples::log_key().verifier().to_string();
    let auth = examples::authority_key().verifier().to_string();
    let gate = examples::gate_key().verifier().to_string();
    let w = examples::witness_key().verifier().to_string();
    let w2 = examples::witness2_key().verifier().to_string();
    let head = format!("log {log}\nauthority {auth}\n");
    let trust: Vec<(&str, &str, String)> = vec![
        ("minimal", "one log and one authority key", head.clone()),
        (
            "full",
            "comments, a pinned gate, two witnesses (one with a URL) in a 2-of-2 group, the quorum",
            format!(
                "# trust\n{head}gate {gate}  # pinned\n\nwitness a {w}\nwitness b {w2} https://w2.example/\ngroup both all a b\nquorum both\n"
            ),
        ),
        (
            "witness-key-twice",
            "one key for two witness names (one signer would count twice)",
            format!("{head}witness a {w}\nwitness b {w}\ngroup both all a b\nquorum both\n"),
        ),
        (
            "witness-url-not-http",
            "a witness URL that is not http:// or https://",
            format!("{head}witness a {w} ftp://w1.example\nquorum a\n"),
        ),
        ("no-log", "no log line", format!("authority {auth}\n")),
        ("no-authority", "no authority line", format!("log {log}\n")),
        (
            "witness-not-cosignature",
            "a witness key of type 0x01",
            format!("{head}witness a {gate}\nquorum a\n"),
        ),
        (
            "witnesses-without-quorum",
            "witnesses and no quorum line",
            format!("{head}witness a {w}\n"),
        ),
        (
            "quorum-none",
            "witnesses with quorum none",
            format!("{head}witness a {w}\nquorum none\n"),
        ),
        (
            "group-k-0",
            "a group threshold of 0",
            format!("{head}witness a {w}\ngroup g 0 a\nquorum g\n"),
        ),
        (
            "group-k-too-big",
            "a threshold above the member count",
            format!("{head}witness a {w}\ngroup g 2 a\nquorum g\n"),
        ),
        (
            "group-forward-reference",
            "a group naming what is defined later",
            format!("{head}group g 1 a\nwitness a {w}\nquorum g\n"),
        ),
        (
            "quorum-twice",
            "two quorum lines",
            format!("{head}quorum none\nquorum none\n"),
        ),
        (
            "log-is-witness-key",
            "a log key of type 0x04",
            format!("log {w}\nauthority {auth}\n"),
        ),
        (
            "unknown-statement",
            "a line that is no statement",
            format!("{head}trust everything\n"),
        ),
    ];
    for (name, desc, text) in trust {
        out.push((
            format!("trust-file/{name}"),
            json!({ "desc": desc, "text": text, "expected": trust_outcome(&text) }),
        ));
    }
    let cp = "log.example/cairn\n3\nAAAA\n\n— log.example/cairn AAAA\n";
    let root = "ab".repeat(32);
    let state = |f: &dyn Fn(&mut Value)| {
        let mut v = json!({
            "version": 1, "origin": "log.example/cairn", "size": 3, "root": root,
            "checkpoint": cp, "audited_at": "2026-12-01T00:00:00Z",
        });
        f(&mut v);
        v.to_string()
    };
    let states: Vec<(&str, &str, String)> = vec![
        ("valid", "what an audit writes", state(&|_| {})),
        ("version-2", "version 2", state(&|v| v["version"] = json!(2))),
        (
            "unknown-field",
            "an unknown field",
            state(&|v| v["extra"] = json!(true)),
        ),
        (
            "missing-checkpoint",
            "no checkpoint",
            state(&|v| {
                v.as_object_mut().map(|o| o.remove("checkpoint"));
            }),
        ),
        (
            "root-uppercase",
            "the root in uppercase hex",
            state(&|v| v["root"] = json!("AB".repeat(32))),
        ),
        (
            "root-short",
            "a root of 31 bytes",
            state(&|v| v["root"] = json!("ab".repeat(31))),
        ),
        ("size-negative", "a negative size", state(&|v| v["size"] = json!(-1))),
        ("not-json", "not JSON", "version: 1\n".into()),
    ];
    for (name, desc, text) in states {
        out.push((
            format!("state-file/{name}"),
            json!({ "desc": desc, "text": text, "expected": state_outcome(&text) }),
        ));
    }
}
