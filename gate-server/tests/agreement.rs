//! `policy eval`, `decide` and `serve` read a request the same way: each
//! accepts what AuthZEN allows and a receipt can record (numbers with a
//! fraction, empty strings, unknown members ignored), each refuses the
//! same requests with the same reason, and they reach the same decision.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::fixture::{Served, policy_dir, post};
use common::{gate, text};
use serde_json::{Value, json};

/// A decision input around `request`, as `policy eval` and `decide` read it.
fn input_file(dir: &Path, name: &str, request: &Value) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.json"));
    let input = json!({"request": request, "nd_inputs": {"clock": "2026-11-21T13:00:04.000Z"}});
    std::fs::write(&path, serde_json::to_vec_pretty(&input).unwrap()).unwrap();
    path
}

fn request() -> Value {
    json!({
        "subject": {"type": "agent", "id": "agent:devops-helper", "nickname": "ignored", "properties": {"": "", "trust": 0.75}},
        "action": {"name": "delete_pod", "properties": {"args": ["web-7d9f"], "ratio": 0.5, "one": 1.0}},
        "resource": {"type": "eks", "id": "staging:web"},
        "context": {"ticket": "OPS-1004", "budget": -2.5e-8},
        "page": {"token": "also ignored"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_eval_decide_and_serve_agree_on_every_request() {
    let s = Served::new("agree");
    let dir = &s.dir.0;
    let l = s.ledger.as_ref().unwrap();
    let log_vkey = cairn_api::examples::log_key().verifier().to_string();
    let url = l.url();
    let bundle = policy_dir("devops-staging");
    let env = [("CAIRN_LEDGER_URL", url.as_str())];
    let eval = |input: &Path| gate(&[&"policy", &"eval", &bundle, &input, &"--json"], &env);
    let decide = |input: &Path| {
        gate(
            &[
                &"decide",
                &input,
                &"--gate-key",
                &dir.join("gate.key"),
                &"--log-key",
                &log_vkey,
                &"--bundle",
                &bundle,
                &"--spool",
                &dir.join("cli-spool"),
            ],
            &env,
        )
    };

    // AuthZEN-valid, with what JSON-minded encoders stumble on: all three
    // decide (PERMIT) and record the request exactly, minus unknown members.
    let edges = input_file(dir, "edges", &request());
    let o = eval(&edges);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"]["decision"], "PERMIT", "{v}");
    let o = decide(&edges);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "PERMIT", "{v}");
    let by_cli = s.logged(v["logged"]["index"].as_u64().unwrap());
    let a = post(&s.app, "/access/v1/evaluation", &request(), &[]).await;
    assert_eq!(a.json["decision"], true, "{}", a.json);
    let by_serve = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    assert_eq!(by_cli.parts().request, by_serve.parts().request);
    let recorded = serde_json::to_value(&by_serve.parts().request).unwrap();
    let mut want = request();
    want.as_object_mut().unwrap().remove("page");
    want["subject"].as_object_mut().unwrap().remove("nickname");
    assert_eq!(recorded, want);

    // Text not in NFC: no receipt can record it, so all three refuse it,
    // naming the same place, and nothing is logged or spooled.
    let mut nfd = request();
    nfd["context"]["note"] = json!("cafe\u{301}");
    let nfd_file = input_file(dir, "nfd", &nfd);
    let size = || {
        cairn_gate::client::Http::new(&url)
            .get("/v1/checkpoint", 1 << 16, std::time::Duration::from_secs(5))
            .unwrap()
            .1
    };
    let before = size();
    for o in [eval(&nfd_file), decide(&nfd_file)] {
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        assert!(
            text(&o).contains("request.context.note: text must be in Unicode NFC"),
            "{}",
            text(&o)
        );
    }
    let a = post(&s.app, "/access/v1/evaluation", &nfd, &[]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.json);
    assert!(
        a.json["detail"]
            .as_str()
            .unwrap()
            .contains("request.context.note: text must be in Unicode NFC"),
        "{}",
        a.json
    );
    assert_eq!(size(), before, "nothing logged");
    assert_eq!(s.spooled(), 0);

    // Not an AuthZEN request at all (no action): refused by all three.
    let mut broken = request();
    broken.as_object_mut().unwrap().remove("action");
    let broken_file = input_file(dir, "broken", &broken);
    for o in [eval(&broken_file), decide(&broken_file)] {
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        assert!(text(&o).contains("missing field `action`"), "{}", text(&o));
    }
    let a = post(&s.app, "/access/v1/evaluation", &broken, &[]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.json);

    // The auditor's replay reads the fractions back and reaches the same
    // decisions on the archived bundle.
    let report = tokio::task::spawn_blocking(move || {
        let source = cairn_verify::source::Source::Ledger(cairn_verify::source::Ledger::new(&url).unwrap());
        let plan = cairn_verify::engine::ReplayPlan {
            filters: cairn_verify::filters::Filters::default(),
            with: cairn_verify::engine::ReplayWith::Archived,
        };
        cairn_verify::replay::replay(&source, None, plan, true)
    })
    .await
    .unwrap();
    assert_eq!(
        (report.replayed, report.mismatches_total),
        (2, 0),
        "{}",
        report.human("replay")
    );
}
