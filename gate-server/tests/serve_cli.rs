//! `cairn-gate serve` as an operator runs it: a config file, flags, a real
//! ledger; an AuthZEN client calls it over HTTP; SIGTERM stops it.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_api::examples;
use common::TempDir;
use common::fixture::{CALLER, bootstrap, ledger, policy_dir};

#[test]
fn serve_answers_authzen_calls_and_stops_on_sigterm() {
    let dir = TempDir::new("serve-cli");
    let l = ledger(&dir.0.join("ledger.redb"), None);
    bootstrap(&l, &["devops-staging"]);
    cairn_host::keyfile::write_secret(&dir.0.join("gate.key"), &examples::gate_key().to_private_string()).unwrap();
    std::fs::write(dir.0.join("log.vkey"), examples::log_key().verifier().to_string()).unwrap();
    std::fs::write(dir.0.join("callers"), format!("{CALLER}\n")).unwrap();
    std::fs::write(
        dir.0.join("gate.toml"),
        format!(
            "ledger = \"{}\"\nlog_key = \"@log.vkey\"\ngate_key = \"gate.key\"\ncallers = \"callers\"\nspool = \"spool\"\nlisten = \"127.0.0.1:1\"\n[surfaces]\neks = \"{}\"\n",
            l.url(),
            policy_dir("devops-staging").display()
        ),
    )
    .unwrap();
    // The flag wins over the file's (unusable) listen address.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .args(["serve", "--config"])
        .arg(dir.0.join("gate.toml"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("CAIRN_GATE_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let http = cairn_gate::client::Http::new(&url);
    let body = serde_json::json!({
        "subject": {"type": "agent", "id": "agent:devops-helper"},
        "action": {"name": "delete_pod"},
        "resource": {"type": "eks", "id": "production:web"}
    })
    .to_string();
    let auth = format!("Bearer {CALLER}");
    let (status, answer) = http
        .post(
            "/access/v1/evaluation",
            "application/json",
            &[("Authorization", &auth), ("X-Request-ID", "r-1")],
            body.as_bytes(),
            Duration::from_secs(10),
        )
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["cairn"]["decision"], "DENY");
    assert_eq!(answer["context"]["cairn"]["durable"], true);
    let (status, _) = http
        .post(
            "/access/v1/evaluation",
            "application/json",
            &[],
            body.as_bytes(),
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(status, 401);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_refuses_incomplete_settings_with_exit_4() {
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .args(["serve", "--ledger", "http://127.0.0.1:9"])
        .env_remove("CAIRN_GATE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing setting"), "{err}");
}
