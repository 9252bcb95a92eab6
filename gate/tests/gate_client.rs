//! The gate library against a real embedded ledger and against ledgers
//! that hang, fail or are down: nothing is allowed unless its PERMIT is
//! durably logged, and nothing is lost (SILENCE receipts spooled, delivered
//! after a restart of the gate).

mod common;

use common::TempDir;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::policy::Bundle;
use cairn_api::receipt::{ApprovalOutcome, Decision, Mode};
use cairn_api::timestamp::Timestamp;
use cairn_gate::approval::{ApprovalAnswer, ApprovalRequest, Approver};
use cairn_gate::client::{HttpLedger, Ledger};
use cairn_gate::gate::{Gate, GateConfig, Logged, Override, ToolCall};
use cairn_gate::spool::Spool;
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};

const TOKEN: &str = "gate-test-admin";

fn bundle(scenario: &str) -> Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/policies/{scenario}/cairn-rules"));
    cairn_gate::policy_dir::pack_dir(&dir).unwrap()
}

/// A ledger with the gate and operator keys registered and the bundles archived.
fn ledger(dir: &Path, listen: Option<std::net::SocketAddr>) -> EmbeddedLedger {
    ledger_at(dir, listen, 0)
}

/// The same, its clock `offset_ms` ahead of the system's.
fn ledger_at(dir: &Path, listen: Option<std::net::SocketAddr>, offset_ms: i64) -> EmbeddedLedger {
    let mut setup = LedgerSetup::new(
        &dir.join("ledger.redb"),
        examples::log_key(),
        vec![examples::authority_key().verifier()],
    );
    setup.config.admin_token = Some(TOKEN.into());
    setup.config.sequencer.clock = cairn_ledger::clock::Clock::offset(offset_ms);
    if let Some(l) = listen {
        setup.listen = l;
    }
    EmbeddedLedger::start(setup).unwrap()
}

fn admin_post(l: &EmbeddedLedger, path: &str, body: &[u8]) -> u16 {
    cairn_gate::client::Http::new(&l.url())
        .post(
            path,
            "application/cose",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body,
            Duration::from_secs(5),
        )
        .unwrap()
        .0
}

fn bootstrap(l: &EmbeddedLedger) {
    let auth = examples::authority_key();
    for (role, key) in [
        (KeyRole::Gate, examples::gate_key()),
        (KeyRole::Operator, examples::operator_key()),
    ] {
        let st = KeyStatement {
            action: KeyAction::Register,
            role,
            key: key.verifier(),
            issued_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
            reason: None,
        };
        assert_eq!(admin_post(l, "/v1/keys", &st.sign(&auth).unwrap()), 201);
    }
    for s in ["devops-staging", "databases"] {
        let b = cairn_api::cose::sign(bundle(s).as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap();
        assert_eq!(admin_post(l, "/v1/policies", &b), 201);
    }
}

fn gate(url: &str, scenario: &str, spool: &Path, approver: Option<Arc<dyn Approver>>, mode: Mode) -> Gate {
    let ledger: Arc<dyn Ledger> = Arc::new(HttpLedger::new(url, examples::log_key().verifier()));
    Gate::new(
        examples::gate_key(),
        bundle(scenario),
        ledger,
        Spool::open(spool).unwrap(),
        approver,
        GateConfig {
            mode,
            submit_deadline: Duration::from_millis(1500),
            approval_deadline: Duration::from_millis(300),
        },
    )
    .unwrap()
}

/// A tool call of `subject` doing `action` on `surface`:`target`, with the
/// example context and delegation chain.
fn call(subject: &str, action: &str, surface: &str, target: &str, key: &str) -> ToolCall {
    let mut request = examples::receipt_parts(4).request;
    request.subject.id = subject.into();
    request.subject.kind = subject.split(':').next().unwrap_or("agent").into();
    request.action.name = action.into();
    request.action.properties = None;
    request.resource.kind = surface.into();
    request.resource.id = target.into();
    ToolCall {
        request,
        lineage: examples::receipt_parts(0).lineage,
        initiator: None,
        idempotency_key: key.into(),
    }
}

/// An approver that answers as told, or never.
struct Scripted(Option<ApprovalOutcome>);
impl Approver for Scripted {
    fn channel(&self) -> &str {
        "scripted"
    }
    fn ask(&self, _: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer {
        match self.0 {
            Some(outcome) => ApprovalAnswer {
                outcome,
                approver: Some(cairn_api::receipt::Approver {
                    iss: "https://idp.example".into(),
                    sub: "carol@example.com".into(),
                }),
            },
            None => {
                std::thread::sleep(deadline);
                ApprovalAnswer::timed_out()
            }
        }
    }
}

fn durable(logged: &Logged) -> bool {
    matches!(logged, Logged::Durable(_))
}

#[test]
fn decisions_are_allowed_only_when_a_permit_is_durably_logged() {
    let dir = TempDir::new("real");
    let l = ledger(&dir.0, None);
    bootstrap(&l);
    let g = gate(&l.url(), "devops-staging", &dir.0.join("spool"), None, Mode::Enforce);
    // Staging: PERMIT, logged, with a proof the gate checked.
    let a = g
        .authorize(&call("agent:devops-helper", "delete_pod", "eks", "staging:web-1", "k1"))
        .unwrap();
    assert!(
        a.allowed && a.decided == Decision::Permit && durable(&a.logged),
        "{a:?}"
    );
    // Production: DENY, logged, refused with the friendly message.
    let a = g
        .authorize(&call(
            "agent:devops-helper",
            "delete_pod",
            "eks",
            "production:web-1",
            "k2",
        ))
        .unwrap();
    assert!(!a.allowed && a.decided == Decision::Deny && durable(&a.logged), "{a:?}");
    assert!(a.reason.user_message.contains("blocked"), "{}", a.reason.user_message);
    // Shadow mode: the DENY is recorded, the action is not blocked.
    let shadow = gate(&l.url(), "devops-staging", &dir.0.join("spool"), None, Mode::Shadow);
    let a = shadow
        .authorize(&call(
            "agent:devops-helper",
            "delete_pod",
            "eks",
            "production:web-2",
            "k3",
        ))
        .unwrap();
    assert!(a.allowed && a.decided == Decision::Deny && durable(&a.logged), "{a:?}");
    assert_eq!(a.receipt.parts().mode, Mode::Shadow);
    // A retry under the same idempotency key: one entry, the first answer.
    let first = g
        .authorize(&call(
            "agent:devops-helper",
            "get_pods",
            "eks",
            "staging:web-1",
            "pay-1",
        ))
        .unwrap();
    let again = g
        .authorize(&call(
            "agent:devops-helper",
            "get_pods",
            "eks",
            "staging:web-1",
            "pay-1",
        ))
        .unwrap();
    let (Logged::Durable(a1), Logged::Durable(a2)) = (&first.logged, &again.logged) else {
        panic!("{first:?} {again:?}")
    };
    assert_eq!(a1.index, a2.index);
    assert!(a2.existing && a2.original.is_some());
    assert_eq!(again.receipt.parts().receipt_id, first.receipt.parts().receipt_id);
    assert!(again.allowed);
    // Break-glass: production delete allowed, counter-signed, flagged.
    let op = examples::operator_key();
    let a = g
        .break_glass(
            &call("agent:devops-helper", "delete_pod", "eks", "production:web-3", "bg-1"),
            &Override {
                operator: &op,
                justification: "incident 4711: stuck pod".into(),
                ttl: Duration::from_secs(900),
            },
        )
        .unwrap();
    assert!(a.allowed && durable(&a.logged), "{a:?}");
    a.receipt.verify_break_glass(&op.verifier()).unwrap();
    assert!(a.receipt.parts().reason.admin_message.contains("the policy said DENY"));
}

#[test]
fn approvals_decide_destructive_production_actions() {
    let dir = TempDir::new("approval");
    let l = ledger(&dir.0, None);
    bootstrap(&l);
    let drop = || call("agent:dba", "DROP", "postgres", "production/orders", "drop");
    let with = |o: Option<ApprovalOutcome>, key: &str| {
        let g = gate(
            &l.url(),
            "databases",
            &dir.0.join("spool"),
            Some(Arc::new(Scripted(o))),
            Mode::Enforce,
        );
        let mut c = drop();
        c.idempotency_key = key.into();
        g.authorize(&c).unwrap()
    };
    let a = with(Some(ApprovalOutcome::Approved), "a1");
    assert!(a.allowed && durable(&a.logged), "{a:?}");
    let ap = a.receipt.parts().approval.clone().unwrap();
    assert_eq!(ap.outcome, Some(ApprovalOutcome::Approved));
    assert_eq!(ap.channel, "scripted");
    assert!(ap.presented.unwrap().binding_message.contains("DROP"));
    let a = with(Some(ApprovalOutcome::Denied), "a2");
    assert!(!a.allowed && a.decided == Decision::Deny);
    // Nobody answers: TIMED_OUT, denied, and recorded as such.
    let a = with(None, "a3");
    assert!(!a.allowed && a.decided == Decision::Deny && durable(&a.logged), "{a:?}");
    assert_eq!(
        a.receipt.parts().approval.as_ref().unwrap().outcome,
        Some(ApprovalOutcome::TimedOut)
    );
    assert_eq!(a.reason.code, "approval_timed_out");
    // No approver configured: approval required, denied.
    let g = gate(&l.url(), "databases", &dir.0.join("spool"), None, Mode::Enforce);
    let a = g.authorize(&drop()).unwrap();
    assert!(!a.allowed && a.reason.code == "approval_required", "{a:?}");
}

/// A ledger that accepts connections and never answers.
fn hanging() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

/// A ledger that answers every request with 500.
fn failing() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let body = "{\"type\":\"https://cairn.dev/problems/internal\",\"detail\":\"boom\"}";
            let _ = write!(
                s,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn down() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

#[test]
fn a_hanging_failing_or_absent_ledger_fails_closed_and_loses_nothing() {
    let dir = TempDir::new("failclosed");
    let (_hold, hang_url) = hanging();
    let spool = dir.0.join("spool");
    for (what, url) in [("hangs", hang_url), ("answers 500", failing()), ("is down", down())] {
        let g = gate(&url, "devops-staging", &spool, None, Mode::Enforce);
        // A PERMIT by policy, but not acknowledged: refused.
        let a = g
            .authorize(&call(
                "agent:devops-helper",
                "get_pods",
                "eks",
                "staging:web-1",
                &what.replace(' ', "-"),
            ))
            .unwrap();
        assert_eq!(a.decided, Decision::Permit, "{what}");
        assert!(!a.allowed, "the ledger {what}: {a:?}");
        let Logged::Spooled { silence, .. } = &a.logged else {
            panic!("the ledger {what}: {a:?}")
        };
        assert_eq!(silence.parts().decision, Decision::Silence);
        assert!(silence.parts().errors[0].contains(&a.receipt.parts().receipt_id));
    }
    // Shadow mode never blocks, even then.
    let g = gate(&down(), "devops-staging", &spool, None, Mode::Shadow);
    assert!(
        g.authorize(&call("agent:devops-helper", "get_pods", "eks", "staging:web-1", "sh"))
            .unwrap()
            .allowed
    );
    assert_eq!(Spool::open(&spool).unwrap().pending().unwrap().len(), 4);

    // The gate "restarts" (a new Gate on the same spool) once the ledger is
    // up: the SILENCE receipts are delivered, in order, durably.
    let l = ledger(&dir.0, None);
    bootstrap(&l);
    let g = gate(&l.url(), "devops-staging", &spool, None, Mode::Enforce);
    let d = g.deliver_spool().unwrap();
    assert_eq!((d.delivered, d.rejected, d.waiting), (4, 0, 0), "{d:?}");
    assert!(Spool::open(&spool).unwrap().pending().unwrap().is_empty());
    // Delivering again is a no-op; resubmitting a delivered SILENCE would
    // have been answered with the original (same bytes).
    assert_eq!(g.deliver_spool().unwrap().delivered, 0);
}

/// An outage longer than the ledger's clock-skew window (five minutes):
/// the ledger's clock is moved three hours on, as if it came back then.
/// Every SILENCE receipt of the outage is delivered and logged, marked
/// late; nothing is set aside.
#[test]
fn evidence_from_an_outage_longer_than_the_skew_window_is_logged_late() {
    let dir = TempDir::new("long-outage");
    let spool = dir.0.join("spool");
    let g = gate(&down(), "devops-staging", &spool, None, Mode::Enforce);
    let mut silences = Vec::new();
    for k in 0..3 {
        let a = g
            .authorize(&call(
                "agent:devops-helper",
                "get_pods",
                "eks",
                "staging:web-1",
                &format!("out-{k}"),
            ))
            .unwrap();
        assert!(!a.allowed);
        let Logged::Spooled { spooled_to, .. } = a.logged else {
            panic!("{:?}", a.logged)
        };
        silences.push(std::fs::read(spooled_to).unwrap());
    }
    const HOURS_3: i64 = 3 * 3_600_000;
    let l = ledger_at(&dir.0, None, HOURS_3);
    bootstrap(&l);
    let g = gate(&l.url(), "devops-staging", &spool, None, Mode::Enforce);
    let d = g.deliver_spool().unwrap();
    assert_eq!((d.delivered, d.rejected, d.held, d.waiting), (3, 0, 0, 0), "{d:?}");
    assert_eq!(g.spool().set_aside().unwrap(), 0);
    // In the log, marked late by three hours: the ledger answers a
    // resubmission with the original and its lateness.
    let ledger = HttpLedger::new(&l.url(), examples::log_key().verifier());
    for body in &silences {
        let ack = ledger.submit(body, Duration::from_secs(5)).unwrap();
        assert!(ack.existing);
        let late = ack.late_by_ms.expect("marked late");
        assert!(late >= HOURS_3 as u64, "{late}");
    }
}

#[test]
fn a_ledger_that_stops_and_comes_back() {
    let dir = TempDir::new("restart");
    let l = ledger(&dir.0, None);
    bootstrap(&l);
    let addr = l.addr();
    let spool = dir.0.join("spool");
    let g = gate(&l.url(), "devops-staging", &spool, None, Mode::Enforce);
    assert!(
        g.authorize(&call("agent:devops-helper", "get_pods", "eks", "staging:a", "r1"))
            .unwrap()
            .allowed
    );
    l.stop();
    let a = g
        .authorize(&call("agent:devops-helper", "get_pods", "eks", "staging:b", "r2"))
        .unwrap();
    assert!(!a.allowed && matches!(a.logged, Logged::Spooled { .. }));
    // Back on the same address and database.
    let l = ledger(&dir.0, Some(addr));
    let d = g.deliver_spool().unwrap();
    assert_eq!(d.delivered, 1, "{d:?}");
    assert!(
        g.authorize(&call("agent:devops-helper", "get_pods", "eks", "staging:c", "r3"))
            .unwrap()
            .allowed
    );
    l.stop();
}

/// A ledger that cannot be reached: the error names the URL.
#[test]
fn a_connection_failure_names_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://{addr}");
    let l = HttpLedger::new(&url, examples::log_key().verifier());
    match l.submit(&examples::signed_receipt(0), Duration::from_secs(2)) {
        Err(cairn_gate::client::LedgerError::Unavailable(m)) => assert!(m.contains(&url), "{m}"),
        other => panic!("{other:?}"),
    }
}
