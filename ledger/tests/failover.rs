//! High availability on PostgreSQL, for real: three `cairn-ledger serve`
//! instances share one database (a cluster of its own, started here), one
//! of them writing under the sequencer lease. Clients submit receipts at a
//! steady rate, each to the instance that answered it last and to the
//! next one on a `503` or no answer (as the gate's client does), retrying
//! the same bytes until acknowledged. Meanwhile:
//!
//! 1. the leader is SIGKILLed at seeded random moments
//!    (`CAIRN_FAILOVER_KILLS`, default 20; `CAIRN_KILL_SEED`) and started
//!    again; after each kill a new leader must commit (the failover time
//!    is measured and printed, and bounded by [`FAILOVER_BOUND`]);
//! 2. the leader is frozen with SIGSTOP past its lease, another takes
//!    over, and the frozen one is resumed: it must follow, refuse writes
//!    with `503 not-leader` naming the new leader, and anything it
//!    answered must be in the one history;
//! 3. PostgreSQL itself is stopped under load and started again: no write
//!    is acknowledged while it is down, and writes resume.
//!
//! And the database's own failover
//! (`a_promoted_synchronous_standby_has_every_acknowledged_receipt`): a
//! synchronous streaming-replication standby promoted after the primary
//! crashed under load.
//!
//! At the end of each: every acknowledged receipt is in the log with the bytes
//! acknowledged and included under the final checkpoint, every checkpoint
//! any client saw is consistent with it (one history), `cairn-ledger fsck
//! --database` passes, and `cairn-verify audit` passes on the log written
//! through all of it.

mod common;
#[allow(dead_code)]
#[path = "ha/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../src/store/pg_cluster.rs"]
mod pg_cluster;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_api::note::Checkpoint;
use cairn_api::policy::Policy;
use common::now_ms;
use common::server::{TempDir, try_http_full};
use harness::*;

#[test]
fn three_instances_fail_over_without_losing_an_acknowledged_receipt() {
    let Some(cluster) = pg_cluster::Cluster::start("failover") else {
        return;
    };
    let db = cluster.params();
    let kills = env_u64("CAIRN_FAILOVER_KILLS", 20);
    let mut seed = env_u64("CAIRN_KILL_SEED", now_ms());
    println!("failover: {kills} kills, CAIRN_KILL_SEED={seed}");
    let root = TempDir::new("failover");
    let (instances, addrs, key) = start_instances(&root.0, INSTANCES, &db);
    let bundle = bundle();
    let policy = Policy::compile(&bundle).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = spawn_clients(&addrs, &key, &seen, &stop);

    // 1. SIGKILL the leader, again and again.
    let mut failovers = Vec::new();
    for round in 0..kills {
        std::thread::sleep(Duration::from_millis(300 + lcg(&mut seed) % 700));
        let l = leader(&instances);
        let t0 = Instant::now();
        instances.lock().unwrap()[l].kill();
        let took = committed_after(&seen, t0, &format!("kill {round}"));
        failovers.push(took);
        let mut list = instances.lock().unwrap();
        list[l].start(&db, false);
    }

    // 2. Freeze the leader in the middle of a commit, past its lease;
    //    resume it once another leads. To be sure a commit is in flight
    //    when it freezes, the test holds the log head's row lock until the
    //    leader's commit waits for it (it then holds the lease row FOR
    //    SHARE), freezes the leader, and lets go.
    std::thread::sleep(Duration::from_millis(500));
    let frozen = leader(&instances);
    let mut blocker = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut tx = blocker.transaction().unwrap();
    tx.execute("SELECT size FROM log_head FOR UPDATE", &[]).unwrap();
    let until = Instant::now() + FAILOVER_BOUND;
    while tx
        .query_opt(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < until, "no commit came to wait for the log head");
        std::thread::sleep(Duration::from_millis(5));
    }
    instances.lock().unwrap()[frozen].signal("-STOP");
    let t0 = Instant::now();
    tx.rollback().unwrap();
    drop(blocker);
    let stop_failover = committed_after(&seen, t0, "SIGSTOP");
    std::thread::sleep(Duration::from_millis(2 * TTL_MS));
    let resumed_at = Instant::now();
    instances.lock().unwrap()[frozen].signal("-CONT");
    let new_leader = leader(&instances);
    assert_ne!(new_leader, frozen, "another instance leads after the freeze");
    // Its commit in flight was refused once it resumed (PostgreSQL had
    // ended its transaction; had it not, the lease epoch would have):
    // nothing of it was acknowledged.
    let log = instances.lock().unwrap()[frozen].dir.join("stderr.log");
    let until = Instant::now() + FAILOVER_BOUND;
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("the batch was answered 503 and not acknowledged")
    {
        assert!(
            Instant::now() < until,
            "the frozen leader's commit in flight did not fail"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The resumed one follows: a write to it is refused, naming the leader.
    let probe = receipt(u64::MAX / 2, &policy, &bundle);
    let until = Instant::now() + FAILOVER_BOUND;
    loop {
        if let Some((status, head, body)) = request(&addrs[frozen], "POST", "/v1/receipts", &probe, false) {
            assert_eq!(
                status,
                503,
                "the resumed former leader wrote: {}",
                String::from_utf8_lossy(&body)
            );
            let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if p["type"].as_str().is_some_and(|t| t.ends_with("/not-leader"))
                && head.contains(&format!("cairn-leader: http://{}", addrs[new_leader]))
            {
                break;
            }
        }
        assert!(
            Instant::now() < until,
            "the resumed former leader does not say who leads"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A batch too, as a whole (not a 200 of refused items).
    let batch = cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(vec![
        cairn_api::cbor::CBOR::to_byte_string(probe.clone()),
    ]));
    let (status, head, _) = try_http_full(
        &addrs[frozen],
        "POST",
        "/v1/receipts/batch",
        "application/cbor",
        &batch,
        false,
        REQUEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(status, 503, "a batch on a follower");
    assert!(head.contains("cairn-leader: "), "{head}");
    let late_answers = seen
        .lock()
        .unwrap()
        .acked
        .iter()
        .filter(|a| a.instance == frozen && a.sent < resumed_at && a.answered >= resumed_at)
        .count();
    assert_eq!(late_answers, 0, "the frozen leader acknowledged after it resumed");

    // 3. PostgreSQL stopped under load, then started again.
    std::thread::sleep(Duration::from_millis(500));
    cluster.stop();
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let up = Instant::now();
    cluster.start_again();
    let resumed = committed_after(&seen, up, "PostgreSQL restart");
    let during = seen
        .lock()
        .unwrap()
        .acked
        .iter()
        .filter(|a| a.new && a.sent > down && a.answered < up)
        .count();
    assert_eq!(during, 0, "a write was acknowledged while PostgreSQL was down");
    std::thread::sleep(Duration::from_millis(500));

    let seen = stop_clients(&stop, clients, seen);
    let l = leader(&instances);
    for a in &addrs {
        // Every instance serves the same log, the followers from the
        // database too: the tiles' checkpoint, and every entry and proof.
        let (status, _, note) = request(a, "GET", "/checkpoint", b"", false).unwrap();
        assert_eq!(status, 200);
        Checkpoint::verify(&note, &key, &[]).unwrap();
        check_one_history(a, &key, &seen);
    }
    fsck_and_audit(&db, &instances.lock().unwrap()[l].dir, &addrs[l], &key);
    let acked = seen.acked.len();
    let mut f = failovers.clone();
    println!(
        "failover: {kills} SIGKILLs of the leader, 1 SIGSTOP, 1 PostgreSQL restart; {acked} receipts acknowledged, \
         0 lost; failover median {:?}, max {:?}; after SIGSTOP mid-commit {stop_failover:?} (its commit refused \
         after it resumed, {late_answers} acknowledged); writes resumed {resumed:?} after PostgreSQL came back; \
         {} answers 503 on the way",
        median(&mut f),
        failovers.iter().max().unwrap(),
        seen.refused_503
    );
    assert!(acked > 0);
}

/// The database's own failover: a streaming-replication standby, the
/// primary waiting for it on every commit (`synchronous_standby_names`,
/// `synchronous_commit = on`). Two ledger instances list both servers and
/// ask for the writable one (`target_session_attrs=read-write`). The
/// primary crashes under load (`pg_ctl stop -m immediate`), the standby is
/// promoted: writes resume on it, and every receipt acknowledged before
/// the crash is there with its bytes, in one history.
#[test]
fn a_promoted_synchronous_standby_has_every_acknowledged_receipt() {
    let Some(primary) = pg_cluster::Cluster::start_with("primary", "-c synchronous_standby_names='*'") else {
        return;
    };
    let standby = pg_cluster::Cluster::standby_of(&primary, "standby");
    let mut c = postgres::Client::connect(&primary.params(), postgres::NoTls).unwrap();
    let until = Instant::now() + FAILOVER_BOUND;
    while c
        .query_opt("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'", &[])
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < until, "the standby never became synchronous");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    let db = format!(
        "host={},{} port=5432 user=cairn dbname=postgres target_session_attrs=read-write connect_timeout=2",
        primary.host().display(),
        standby.host().display()
    );
    let root = TempDir::new("promote");
    let (instances, addrs, key) = start_instances(&root.0, 2, &db);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = spawn_clients(&addrs, &key, &seen, &stop);
    let until = Instant::now() + FAILOVER_BOUND;
    while seen.lock().unwrap().acked.len() < 100 {
        assert!(Instant::now() < until, "the load never got 100 acknowledgements");
        std::thread::sleep(Duration::from_millis(20));
    }
    primary.crash();
    let crashed = Instant::now();
    let before = seen.lock().unwrap().acked.len();
    standby.promote();
    let resumed = committed_after(&seen, crashed, "promotion");
    std::thread::sleep(Duration::from_millis(500));
    let seen = stop_clients(&stop, clients, seen);
    let l = leader(&instances);
    check_one_history(&addrs[l], &key, &seen);
    fsck_and_audit(&db, &instances.lock().unwrap()[l].dir, &addrs[l], &key);
    println!(
        "promotion: {} receipts acknowledged ({before} before the primary crashed), 0 lost; writes resumed {resumed:?} \
         after the crash, on the promoted standby",
        seen.acked.len()
    );
}
