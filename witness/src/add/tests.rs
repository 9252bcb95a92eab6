use super::*;
use cairn_api::examples::TestLog;
use cairn_api::keys::KeyType;
use cairn_api::merkle::{MemoryTree, MerkleHasher};

fn witness(dir: &std::path::Path, log: &TestLog) -> Witness {
    Witness::new(
        SignerKey::from_seed("witness.example/w1", KeyType::Cosignature, &[9; 32]).unwrap(),
        vec![log.key.verifier()],
        State::open(dir).unwrap(),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cairn-witness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn cosigns_a_growing_log_and_remembers_it_across_restarts() {
    let dir = tmp("grow");
    let mut log = TestLog::new("log.example/a", 1);
    log.grow(5, "a");
    let w = witness(&dir, &log);
    let line = w.add_checkpoint(&log.request(0, 5)).unwrap();
    // The answer is a cosignature on the checkpoint, valid under C2SP.
    let mut note = SignedNote::parse(log.checkpoint(5).as_bytes()).unwrap();
    for s in cairn_api::witness::protocol::parse_cosignatures(line.as_bytes()).unwrap() {
        note.add_signature(s).unwrap();
    }
    let (_, _, cosigs) = Checkpoint::verify(note.to_text().as_bytes(), &log.key.verifier(), &[w.verifier()]).unwrap();
    assert_eq!(cosigs.len(), 1);
    log.grow(7, "a");
    w.add_checkpoint(&log.request(5, 12)).unwrap();
    // The same checkpoint again: cosigned again.
    w.add_checkpoint(&log.request(12, 12)).unwrap();
    drop(w);
    let w = witness(&dir, &log);
    assert_eq!(w.logs()[0].size, 12);
    assert!(matches!(
        w.add_checkpoint(&log.request(5, 12)),
        Err(Refusal::Conflict { size: 12 })
    ));
    assert!(matches!(
        w.add_checkpoint(&log.request(0, 12)),
        Err(Refusal::Conflict { size: 12 })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_refusal_of_the_text() {
    let dir = tmp("refuse");
    let mut log = TestLog::new("log.example/a", 1);
    log.grow(8, "a");
    let w = witness(&dir, &log);
    assert!(matches!(w.add_checkpoint(b"old x\n\n"), Err(Refusal::Malformed(_))));
    // Unknown origin: 404; signed by another key of the same name: 403.
    let other = TestLog {
        key: SignerKey::from_seed("log.example/b", KeyType::Ed25519, &[2; 32]).unwrap(),
        tree: MemoryTree::from_leaf_hashes((0..8).map(|i: u8| Sha256::hash_leaf(&[i]))),
    };
    assert!(matches!(
        w.add_checkpoint(&other.request(0, 8)),
        Err(Refusal::UnknownLog(_))
    ));
    let impostor = TestLog {
        key: SignerKey::from_seed("log.example/a", KeyType::Ed25519, &[3; 32]).unwrap(),
        tree: MemoryTree::from_leaf_hashes((0..8).map(|i: u8| Sha256::hash_leaf(&[i]))),
    };
    assert!(matches!(
        w.add_checkpoint(&impostor.request(0, 8)),
        Err(Refusal::NotSigned(_))
    ));
    // Old larger than the size: 400. A proof from 0: 422.
    let mut req = AddCheckpoint::parse(&log.request(0, 4)).unwrap();
    req.old_size = 5;
    assert!(matches!(
        w.add_checkpoint(&req.to_bytes()),
        Err(Refusal::OldTooLarge { old: 5, size: 4 })
    ));
    req.old_size = 0;
    req.proof = vec![log.root(1)];
    assert!(matches!(
        w.add_checkpoint(&req.to_bytes()),
        Err(Refusal::Inconsistent(_))
    ));
    assert!(w.logs().is_empty(), "nothing refused is recorded");
    w.add_checkpoint(&log.request(0, 4)).unwrap();
    // A wrong proof: 422 and evidence.
    let mut bad = AddCheckpoint::parse(&log.request(4, 8)).unwrap();
    bad.proof[0] = log.root(3);
    assert!(matches!(
        w.add_checkpoint(&bad.to_bytes()),
        Err(Refusal::Inconsistent(_))
    ));
    assert_eq!(w.forks().unwrap().len(), 1);
    assert_eq!(w.logs()[0].size, 4, "still what it cosigned");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fork_is_refused_and_kept_as_evidence() {
    let dir = tmp("fork");
    let mut honest = TestLog::new("log.example/a", 1);
    honest.grow(6, "honest");
    let w = witness(&dir, &honest);
    w.add_checkpoint(&honest.request(0, 6)).unwrap();
    // The same key, another history.
    let mut fork = TestLog::new("log.example/a", 1);
    fork.grow(6, "fork");
    assert!(matches!(
        w.add_checkpoint(&fork.request(6, 6)),
        Err(Refusal::Fork { size: 6 })
    ));
    fork.grow(4, "fork");
    assert!(matches!(
        w.add_checkpoint(&fork.request(6, 10)),
        Err(Refusal::Inconsistent(_))
    ));
    let forks = w.forks().unwrap();
    assert_eq!(forks.len(), 2);
    assert_eq!(forks[0].reason, "same size, different root");
    assert_eq!(forks[1].refused, fork.checkpoint(10));
    // Both halves of the evidence verify under the log key.
    for f in &forks {
        Checkpoint::verify(f.cosigned.as_bytes(), &honest.key.verifier(), &[]).unwrap();
        Checkpoint::verify(f.refused.as_bytes(), &honest.key.verifier(), &[]).unwrap();
    }
    // The honest log goes on.
    honest.grow(3, "honest");
    w.add_checkpoint(&honest.request(6, 9)).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
