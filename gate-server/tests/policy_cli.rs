//! `cairn-gate policy` as a policy author uses it: real files, real exit codes.

mod common;

use common::{TempDir, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn policy(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .current_dir(cwd)
        .arg("policy")
        .args(args)
        .output()
        .unwrap()
}

fn meta() -> String {
    let e = cairn_api::policy::registry::CAIRN_RULES;
    format!(
        r#"{{"bundle_id": "t", "revision": 1, "engine": {{"name": "{}", "version": "{}"}}, "created_at": "2026-11-21T00:00:00Z"}}"#,
        e.name(),
        e.version()
    )
}

fn rules_dir(t: &TempDir, rules: &str) -> PathBuf {
    let d = t.0.join("policy");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("bundle.json"), meta()).unwrap();
    std::fs::write(d.join("rules.toml"), rules).unwrap();
    d
}

#[test]
fn pack_hash_and_eval_agree() {
    let t = TempDir::new("pack");
    let dir = root().join("examples/policies/devops-staging/cairn-rules");
    let out = t.0.join("b.bundle");
    let packed = policy(&["pack", dir.to_str().unwrap(), "-o", out.to_str().unwrap()], &t.0);
    assert_eq!(packed.status.code(), Some(0), "{}", text(&packed));
    let hash = String::from_utf8_lossy(&packed.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let hashed = policy(&["hash", out.to_str().unwrap()], &t.0);
    assert_eq!(hashed.status.code(), Some(0));
    assert!(text(&hashed).starts_with(&hash), "{}", text(&hashed));
    assert!(text(&hashed).contains("rules.toml"));
    let req = root().join("examples/requests/devops-delete-production.json");
    for bundle in [out.to_str().unwrap(), dir.to_str().unwrap()] {
        let e = policy(&["eval", bundle, req.to_str().unwrap()], &t.0);
        assert_eq!(e.status.code(), Some(0));
        let s = text(&e);
        assert!(s.starts_with("DENY\n"), "{s}");
        assert!(s.contains("deny-agent-on-production"));
        assert!(s.contains(
            "Action blocked by policy: agent:devops-helper is not authorized to delete_pod on eks:production:web"
        ));
    }
    let j = policy(&["eval", out.to_str().unwrap(), req.to_str().unwrap(), "--json"], &t.0);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["decision"]["decision"], "DENY");
    assert_eq!(v["bundle_hash"], hash);
    // A tampered bundle file is refused with the file named.
    let mut bytes = std::fs::read(&out).unwrap();
    let at = bytes.windows(8).position(|w| w == b"agent:de").unwrap();
    bytes[at] = b'A';
    std::fs::write(&out, bytes).unwrap();
    let bad = policy(&["hash", out.to_str().unwrap()], &t.0);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("does not match its hash"), "{}", text(&bad));
}

#[test]
fn check_passes_the_scenarios_and_reports_dead_and_shadowed_rules() {
    for s in ["devops-staging", "databases", "inbox", "payments"] {
        for e in cairn_api::policy::registry::ENGINES.iter().map(|e| e.name()) {
            let d = root().join("examples/policies").join(s).join(e);
            let o = policy(&["check", d.to_str().unwrap()], &root());
            assert_eq!(o.status.code(), Some(0), "{s}/{e}: {}", text(&o));
        }
    }
    let t = TempDir::new("check");
    let dir = rules_dir(
        &t,
        r#"
[vocabulary]
surfaces = ["eks"]
actions = ["get", "delete"]

[[rule]]
id = "dead"
effect = "ALLOW"
subjects = []
surfaces = ["eks"]
actions = ["get"]
resources = ["*"]

[[rule]]
id = "allow-delete-prod"
effect = "ALLOW"
subjects = ["agent:x"]
surfaces = ["eks"]
actions = ["delete"]
resources = ["production"]

[[rule]]
id = "deny-everything-on-eks"
effect = "DENY"
subjects = ["*"]
surfaces = ["eks"]
actions = ["*"]
resources = ["*"]

[[rule]]
id = "typo"
effect = "ALLOW"
subjects = ["*"]
surfaces = ["ekss"]
actions = ["get"]
resources = ["*"]
"#,
    );
    let o = policy(&["check", dir.to_str().unwrap()], &t.0);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains("[never-matches] rule dead can never match: `subjects` is empty"),
        "{s}"
    );
    assert!(
        s.contains("[shadowed] ALLOW rule allow-delete-prod is fully shadowed by DENY rule deny-everything-on-eks"),
        "{s}"
    );
    assert!(s.contains("[unknown-name] rule typo: surfaces glob \"ekss\""), "{s}");
}

#[test]
fn bad_bundles_get_file_and_rule_and_a_nonzero_exit() {
    let t = TempDir::new("bad");
    let dir = rules_dir(
        &t,
        "[[rule]]\nid = \"r1\"\neffect = \"DENY\"\nsubjects = [\"*\"]\nsurfaces = [\"*\"]\nactions = [\"*\"]\nresources = [\"*\"]\nrequires_approval = true\n",
    );
    let o = policy(&["check", dir.to_str().unwrap()], &t.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("rules.toml rule r1: requires_approval applies to ALLOW rules only"),
        "{}",
        text(&o)
    );
    std::fs::write(dir.join("rules.toml"), "[[rule]\n").unwrap();
    let o = policy(&["pack", dir.to_str().unwrap()], &t.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("rules.toml"), "{}", text(&o));
    std::fs::write(dir.join("bundle.json"), "{}").unwrap();
    let o = policy(&["check", dir.to_str().unwrap()], &t.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("bundle.json"), "{}", text(&o));
    let o = policy(&["check", t.0.join("missing").to_str().unwrap()], &t.0);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = policy(&["frobnicate"], &t.0);
    assert_eq!(o.status.code(), Some(4));
}

/// A reader that stops reading (`cairn-gate policy hash FILE | head -0`)
/// is a normal end: the command's own exit code, no panic.
#[test]
fn a_closed_stdout_is_a_normal_end() {
    let t = TempDir::new("pipe");
    let dir = root().join("examples/policies/devops-staging/cairn-rules");
    let out = t.0.join("b.bundle");
    let o = policy(&["pack", dir.to_str().unwrap(), "-o", out.to_str().unwrap()], &t.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for args in [
        vec!["hash", out.to_str().unwrap()],
        vec!["check", dir.to_str().unwrap()],
    ] {
        // A pipe whose reader is gone before the command starts: its first
        // write fails with EPIPE every time (no race with the child).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
            .arg("policy")
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"), "{args:?}");
    }
}

#[test]
fn check_speaks_json() {
    let dir = root().join("examples/policies/devops-staging/cairn-rules");
    let o = policy(&["check", "--json", dir.to_str().unwrap()], &root());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["command"].as_str(), v["valid"].as_bool()),
        (Some("policy check"), Some(true))
    );
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v}");
}
