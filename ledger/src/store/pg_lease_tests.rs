//! The lease and its fencing against a real PostgreSQL cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::store::Store;
use crate::store::pg_store::cluster::Cluster;
use crate::store::tests::{batch, receipt_entry};

fn cfg(name: &str, ttl_ms: u64) -> LeaseConfig {
    LeaseConfig::new(Some(format!("http://{name}")), Duration::from_millis(ttl_ms))
}

/// Two instances on one database: the lease has one holder at a time,
/// and the commit of the one that lost it is refused in the database,
/// even though it still believes it leads.
#[test]
fn a_former_leader_cannot_commit_after_a_takeover() {
    let Some(cluster) = Cluster::start("lease") else {
        return;
    };
    let (la, lb) = (Arc::new(Leadership::new()), Arc::new(Leadership::new()));
    let a = PgStore::open(&cluster.params()).unwrap().fenced_by(la.clone());
    let b = PgStore::open(&cluster.params()).unwrap().fenced_by(lb.clone());
    let (ca, cb) = (cfg("a", 600), cfg("b", 600));
    // Without the lease, nothing is committed.
    let first = batch(&a.state().unwrap(), &[receipt_entry(0)]);
    assert!(matches!(a.commit(&first), Err(StoreError::Fenced(_))));
    let ea = a.acquire_lease(&ca).unwrap().expect("a free lease is taken");
    assert_eq!(b.acquire_lease(&cb).unwrap(), None, "one holder at a time");
    assert_eq!(b.leader().unwrap().as_deref(), Some("http://a"));
    // A believes it leads for far longer than the database's lease: the
    // database's epoch check is what stops it.
    la.lead(ea, Instant::now() + Duration::from_secs(600));
    a.commit(&first).unwrap();
    assert!(a.renew_lease(&ca, ea).unwrap());
    std::thread::sleep(Duration::from_millis(700));
    let eb = b.acquire_lease(&cb).unwrap().expect("an expired lease is taken over");
    assert_eq!(eb, ea + 1);
    assert!(!a.renew_lease(&ca, ea).unwrap(), "the former leader's renewal fails");
    lb.lead(eb, Instant::now() + Duration::from_secs(600));
    let stale = batch(&a.state().unwrap(), &[receipt_entry(1)]);
    let e = a.commit(&stale).unwrap_err();
    assert!(matches!(e, StoreError::Fenced(_)), "{e}");
    assert_eq!(a.size().unwrap(), 1, "the stale commit wrote nothing");
    b.commit(&stale).unwrap();
    assert_eq!(b.size().unwrap(), 2);
    // A release hands the lease over at once.
    b.release_lease(&cb, eb).unwrap();
    assert_eq!(a.acquire_lease(&ca).unwrap(), Some(eb + 1));
}

/// The lease thread takes a free lease, keeps it while it runs, and
/// releases it when stopped; a second instance takes over then.
#[test]
fn the_lease_thread_takes_keeps_and_hands_over() {
    let Some(cluster) = Cluster::start("lease-thread") else {
        return;
    };
    let (la, lb) = (Arc::new(Leadership::new()), Arc::new(Leadership::new()));
    let a = Arc::new(PgStore::open(&cluster.params()).unwrap());
    let b = Arc::new(PgStore::open(&cluster.params()).unwrap());
    let ta = spawn(a, la.clone(), cfg("a", 1000)).unwrap();
    let wait = |l: &Leadership| {
        let until = Instant::now() + Duration::from_secs(10);
        while l.epoch().is_none() {
            assert!(Instant::now() < until, "no lease taken in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait(&la);
    let tb = spawn(b, lb.clone(), cfg("b", 1000)).unwrap();
    // Several renewals later A still leads and B follows, naming A.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(la.epoch().is_some());
    assert_eq!((lb.epoch(), lb.leader_hint().as_deref()), (None, Some("http://a")));
    ta.stop();
    assert_eq!(la.epoch(), None);
    // Released, not left to expire: its expiry is in the past already, or
    // B has taken it.
    let mut c = postgres::Client::connect(&cluster.params(), postgres::NoTls).unwrap();
    let row = c
        .query_one(
            "SELECT holder, expires_at <= clock_timestamp() FROM sequencer_lease",
            &[],
        )
        .unwrap();
    let (holder, expired): (String, bool) = (row.get(0), row.get(1));
    assert!(expired || holder.starts_with("http://b "), "{holder} {expired}");
    wait(&lb);
    tb.stop();
}

/// Every instance of one database signs with the same log key.
#[test]
fn an_instance_with_another_log_key_is_refused() {
    let Some(cluster) = Cluster::start("identity") else {
        return;
    };
    let s = PgStore::open(&cluster.params()).unwrap();
    let ours = cairn_api::examples::log_key().verifier().to_string();
    s.claim_identity(&ours).unwrap();
    s.claim_identity(&ours).unwrap();
    let other = cairn_api::examples::gate_key().verifier().to_string();
    let e = s.claim_identity(&other).unwrap_err();
    assert!(e.to_string().contains("same log key"), "{e}");
}
