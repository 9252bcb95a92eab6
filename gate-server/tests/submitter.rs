//! Receipts of concurrent decisions reach the ledger in one request, each
//! acknowledged with its own proof; a lone decision is sent at once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::examples;
use cairn_api::receipt::{Decision, Mode};
use cairn_gate::client::{HttpLedger, Ledger};
use cairn_gate::gate::{Gate, GateConfig, Logged, ToolCall};
use cairn_gate::spool::Spool;
use cairn_gate_server::submitter::{BatchConfig, Batcher};
use common::TempDir;
use common::fixture::{bootstrap, ledger, policy_dir};

fn gate(batcher: Arc<Batcher>, spool: &std::path::Path) -> Gate {
    let ledger: Arc<dyn Ledger> = batcher;
    Gate::new(
        examples::gate_key(),
        cairn_gate::policy_dir::pack_dir(&policy_dir("devops-staging")).unwrap(),
        ledger,
        Spool::open(spool).unwrap(),
        None,
        GateConfig {
            mode: Mode::Enforce,
            submit_deadline: Duration::from_secs(10),
            approval_deadline: Duration::from_secs(1),
        },
    )
    .unwrap()
}

fn call(n: usize) -> ToolCall {
    let mut request = examples::receipt_parts(4).request;
    request.subject.kind = "agent".into();
    request.subject.id = "agent:devops-helper".into();
    request.action.name = "get_pods".into();
    request.action.properties = None;
    request.resource.kind = "eks".into();
    request.resource.id = format!("staging:web-{n}");
    ToolCall {
        request,
        lineage: Vec::new(),
        initiator: None,
        idempotency_key: format!("batch-{n}"),
    }
}

#[test]
fn concurrent_receipts_go_in_one_batch_each_with_its_proof() {
    let dir = TempDir::new("batch");
    let l = ledger(&dir.0.join("ledger.redb"), None);
    bootstrap(&l, &["devops-staging"]);
    let log_key = examples::log_key().verifier();
    let batcher = Arc::new(Batcher::new(
        HttpLedger::new(&l.url(), log_key),
        BatchConfig {
            max_batch: 64,
            workers: 2,
        },
    ));
    let g = Arc::new(gate(batcher.clone(), &dir.0.join("spool")));
    const N: usize = 24;
    let threads: Vec<_> = (0..N)
        .map(|n| {
            let g = g.clone();
            std::thread::spawn(move || g.authorize(&call(n)).unwrap())
        })
        .collect();
    // Every decision waits in the queue before a worker runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while batcher.queued() < N {
        assert!(Instant::now() < deadline, "only {} queued", batcher.queued());
        std::thread::sleep(Duration::from_millis(5));
    }
    batcher.spawn_workers().unwrap();
    let mut indexes: Vec<u64> = threads
        .into_iter()
        .map(|t| {
            let a = t.join().unwrap();
            assert!(a.allowed && a.decided == Decision::Permit, "{a:?}");
            match a.logged {
                Logged::Durable(ack) => ack.index,
                other => panic!("not durable: {other:?}"),
            }
        })
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), N, "every receipt has its own entry");
    assert_eq!((batcher.requests(), batcher.receipts()), (1, N as u64));

    // A lone decision afterwards goes at once, as a single POST.
    let a = g.authorize(&call(N)).unwrap();
    assert!(matches!(a.logged, Logged::Durable(_)));
    assert_eq!((batcher.requests(), batcher.receipts()), (2, N as u64 + 1));
}

#[test]
fn a_submission_whose_caller_gave_up_is_not_sent() {
    let dir = TempDir::new("expired");
    let l = ledger(&dir.0.join("ledger.redb"), None);
    bootstrap(&l, &["devops-staging"]);
    let batcher = Batcher::new(
        HttpLedger::new(&l.url(), examples::log_key().verifier()),
        BatchConfig::default(),
    );
    // Nobody is working: the caller's deadline passes.
    let r = batcher.submit(b"not even a receipt", Duration::from_millis(50));
    assert!(
        matches!(r, Err(cairn_gate::client::LedgerError::Unavailable(_))),
        "{r:?}"
    );
    batcher.spawn_workers().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(batcher.requests(), 0);
}
