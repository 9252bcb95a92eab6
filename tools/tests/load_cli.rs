//! `cairn-tools load` against an embedded ledger: single and batch POSTs,
//! the gate key registered by `--setup-with`, usage errors.

mod common;

use std::process::{Command, Output};

use cairn_api::keys::KeyType;
use cairn_host::keyfile;
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};
use common::TempDir;

fn tools(args: &[&str], url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-tools"))
        .args(args)
        .env("CAIRN_LEDGER_URL", url)
        .env("CAIRN_ADMIN_TOKEN", "load-token")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn load_sends_single_and_batch_posts() {
    let d = TempDir::new("load");
    let authority = keyfile::new_key("authority.example/root", KeyType::Ed25519).unwrap();
    let auth_file = d.0.join("auth.key");
    keyfile::write_secret(&auth_file, &authority.to_private_string()).unwrap();
    let log = keyfile::new_key("load.example/log", KeyType::Ed25519).unwrap();
    let log_vkey = log.verifier().to_string();
    let mut setup =
        LedgerSetup::new(&d.0.join("ledger.redb"), log, vec![authority.verifier()]).admin_token("load-token");
    // This test is about what load sends and checks, not about shedding: a
    // debug build on a busy machine can keep batches queued past the
    // default bound, and a shed request would fail the run.
    setup.config.sequencer.max_queue_wait = std::time::Duration::ZERO;
    let ledger = EmbeddedLedger::start(setup).unwrap();
    let url = ledger.url();
    let auth = auth_file.to_str().unwrap();
    // Without --setup-with (or a registered --gate-key) every request is
    // refused, and load says why and what to do.
    let o = tools(&["load", "--receipts", "20", "--concurrency", "2"], &url);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("unknown-key") && text(&o).contains("--setup-with"),
        "{}",
        text(&o)
    );
    let o = tools(
        &[
            "load",
            "--receipts",
            "200",
            "--concurrency",
            "4",
            "--json",
            "--setup-with",
            auth,
            "--log-key",
            &log_vkey,
        ],
        &url,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["failed_requests"], 0);
    assert_eq!(v["requests"], 200);
    assert_eq!(v["acknowledgements_checked"], "every proof verified under the log key");
    let o = tools(
        &[
            "load",
            "--receipts",
            "300",
            "--concurrency",
            "2",
            "--batch",
            "64",
            "--json",
            "--log-key",
            &log_vkey,
        ],
        &url,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["requests"], 5);
    assert_eq!(v["failed_requests"], 0);
    // Checked under a key that is not the log's: every answer is refused.
    let stranger = keyfile::new_key("load.example/log", KeyType::Ed25519).unwrap();
    let o = tools(
        &[
            "load",
            "--receipts",
            "10",
            "--log-key",
            &stranger.verifier().to_string(),
        ],
        &url,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("10 requests failed") && text(&o).contains("does not verify"),
        "{}",
        text(&o)
    );
    assert_eq!(tools(&["load", "--batch", "0"], &url).status.code(), Some(4));
    ledger.stop();
}
