//! `cairn-gate keygen | register | publish | decide | load` against an
//! embedded ledger, as an operator would type them.

mod common;

use common::{TempDir, gate, text};

use std::path::{Path, PathBuf};

use cairn_api::keys::VerifierKey;
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn an_operator_sets_up_a_gate_and_decides() {
    let dir = TempDir::new("ops");
    let d = &dir.0;
    let keygen = |name: &str, file: &str| {
        let o = gate(&[&"keygen", &"--name", &name, &"--out", &d.join(file)], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        VerifierKey::parse(String::from_utf8_lossy(&o.stdout).trim()).unwrap()
    };
    let auth = keygen("authority.example/root", "auth.key");
    let auth_vkey = auth.to_string();
    let gate_vkey = keygen("gate.example/ci", "gate.key");
    // Never over an existing key.
    assert_eq!(
        gate(&[&"keygen", &"--name", &"x", &"--out", &d.join("gate.key")], &[])
            .status
            .code(),
        Some(3)
    );
    let log_key =
        cairn_api::keys::SignerKey::from_seed("ops.example/log", cairn_api::keys::KeyType::Ed25519, &[3; 32]).unwrap();
    let mut setup = LedgerSetup::new(&d.join("ledger.redb"), log_key.clone(), vec![auth]);
    setup.config.admin_token = Some("ops-token".into());
    let ledger = EmbeddedLedger::start(setup).unwrap();
    let url = ledger.url();
    let env = [("CAIRN_LEDGER_URL", url.as_str()), ("CAIRN_ADMIN_TOKEN", "ops-token")];
    let gate_key_arg = format!("{gate_vkey}");
    let o = gate(
        &[
            &"register",
            &"--authority-key",
            &d.join("auth.key"),
            &"--key",
            &gate_key_arg,
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("registered gate key gate.example/ci"), "{}", text(&o));
    let policy = root().join("examples/policies/devops-staging/cairn-rules");
    let o = gate(&[&"publish", &policy, &"--authority-key", &d.join("auth.key")], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A wrong admin credential: refused, exit 1, and told it is wrong
    // (not that it is missing); a missing one is a usage error.
    let o = gate(
        &[&"publish", &policy, &"--authority-key", &d.join("auth.key")],
        &[("CAIRN_LEDGER_URL", url.as_str()), ("CAIRN_ADMIN_TOKEN", "wrong")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("credential is wrong"), "{}", text(&o));
    assert!(
        text(&o).contains("submission") && !text(&o).contains("receipt"),
        "{}",
        text(&o)
    );
    let o = gate(
        &[&"publish", &policy, &"--authority-key", &d.join("auth.key")],
        &[("CAIRN_LEDGER_URL", url.as_str())],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("no admin credential"), "{}", text(&o));
    // A public key where the authority's private key belongs.
    std::fs::write(d.join("auth.vkey"), format!("{auth_vkey}\n")).unwrap();
    let o = gate(&[&"publish", &policy, &"--authority-key", &d.join("auth.vkey")], &env);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("verifier (public) key"), "{}", text(&o));
    // --json: the acknowledgement, typed.
    let o = gate(
        &[&"publish", &policy, &"--authority-key", &d.join("auth.key"), &"--json"],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "publish");
    assert!(
        v["ack"]["existing"].as_bool().unwrap(),
        "published twice: the original answers"
    );
    // A bundle whose signed form does not fit a log entry (65,514 bytes):
    // refused before anything is sent, with what to do.
    let big = d.join("big-policy");
    std::fs::create_dir_all(&big).unwrap();
    let src = root().join("examples/policies/devops-staging/cairn-rules");
    std::fs::copy(src.join("bundle.json"), big.join("bundle.json")).unwrap();
    let mut rules = std::fs::read_to_string(src.join("rules.toml")).unwrap();
    for i in 0..600 {
        rules.push_str(&format!(
            "\n[[rule]]\nid = \"filler-{i}\"\neffect = \"DENY\"\nsubjects = [\"agent:nobody-{i}\"]\nsurfaces = [\"eks\"]\nactions = [\"get_pods\"]\nresources = [\"filler:{i}\"]\n"
        ));
    }
    std::fs::write(big.join("rules.toml"), rules).unwrap();
    let o = gate(&[&"publish", &big, &"--authority-key", &d.join("auth.key")], &env);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the log archives entries of at most 65514 bytes"),
        "{}",
        text(&o)
    );
    let log_vkey = log_key.verifier().to_string();
    let decide = |req: &str| {
        gate(
            &[
                &"decide",
                &root().join(format!("examples/requests/{req}.json")),
                &"--gate-key",
                &d.join("gate.key"),
                &"--log-key",
                &log_vkey,
                &"--bundle",
                &policy,
                &"--spool",
                &d.join("spool"),
            ],
            &env,
        )
    };
    let o = decide("devops-delete-staging");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "PERMIT");
    assert_eq!(v["logged"]["durable"], true);
    // --save: the signed receipt and its proof, which the verifier accepts.
    let saved = d.join("saved");
    let o = gate(
        &[
            &"decide",
            &root().join("examples/requests/devops-delete-staging.json"),
            &"--gate-key",
            &d.join("gate.key"),
            &"--log-key",
            &log_vkey,
            &"--bundle",
            &policy,
            &"--spool",
            &d.join("spool"),
            &"--save",
            &saved,
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = v["receipt_id"].as_str().unwrap();
    let body = std::fs::read(saved.join(format!("{id}.cose"))).unwrap();
    let proof = std::fs::read(saved.join(format!("{id}.tlog-proof"))).unwrap();
    let report = cairn_verify::receipt::check(
        &body,
        Some(Ok(proof.clone())),
        Some(&log_key.verifier()),
        Some(&gate_vkey),
        None,
    );
    assert!(report.valid(), "{:?}", report.checks);
    // proofs refresh: this ledger has no witnesses, so the saved proof
    // waits for the quorum (exit 2) and is left as it was; a witness file
    // without a quorum is a usage error (exit 4).
    let wfile = d.join("witnesses.txt");
    std::fs::write(
        &wfile,
        format!(
            "witness w1 {}\nquorum w1\n",
            cairn_api::examples::witness_key().verifier()
        ),
    )
    .unwrap();
    let refresh = |w: &Path| {
        gate(
            &[
                &"proofs",
                &"refresh",
                &"--dir",
                &saved,
                &"--log-key",
                &log_vkey,
                &"--witnesses",
                &w,
                &"--json",
            ],
            &env,
        )
    };
    let o = refresh(&wfile);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["pending"].as_u64(), v["failed"].as_u64()), (Some(1), Some(0)), "{v}");
    assert_eq!(
        std::fs::read(saved.join(format!("{id}.tlog-proof"))).unwrap(),
        proof,
        "left as it was"
    );
    std::fs::write(
        &wfile,
        format!("witness w1 {}\n", cairn_api::examples::witness_key().verifier()),
    )
    .unwrap();
    assert_eq!(refresh(&wfile).status.code(), Some(4));
    // A wrong --log-key: the PERMIT may be logged, so decide says so, fails
    // closed and spools a SILENCE that names it.
    let other_log =
        cairn_api::keys::SignerKey::from_seed("ops.example/log", cairn_api::keys::KeyType::Ed25519, &[4; 32])
            .unwrap()
            .verifier()
            .to_string();
    let o = gate(
        &[
            &"decide",
            &root().join("examples/requests/devops-delete-staging.json"),
            &"--gate-key",
            &d.join("gate.key"),
            &"--log-key",
            &other_log,
            &"--bundle",
            &policy,
            &"--spool",
            &d.join("wrong-key-spool"),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["logged"]["spooled"], true, "{}", text(&o));
    assert!(
        v["logged"]["warning"].as_str().unwrap().contains("may be logged"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("it is signed by ops.example/log+"), "{}", text(&o));
    assert!(text(&o).contains(v["logged"]["silence_receipt_id"].as_str().unwrap()));
    let o = decide("devops-delete-production");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "DENY");
    let addr = ledger.addr();
    ledger.stop();
    // The ledger is gone: decide fails closed (exit 1) and spools.
    let o = decide("devops-delete-staging");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["logged"]["spooled"], true);
    let spooled = || {
        std::fs::read_dir(d.join("spool"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cose"))
            .count()
    };
    assert_eq!(spooled(), 1);
    // Back: the next run (a new process) delivers the spool first.
    let mut setup = LedgerSetup::new(&d.join("ledger.redb"), log_key.clone(), vec![]);
    setup.listen = addr;
    let ledger = EmbeddedLedger::start(setup).unwrap();
    let o = decide("devops-delete-staging");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(spooled(), 0);
    ledger.stop();
}
