//! `cairn-gate proofs refresh`: upgrade the tlog-proof files a gate saved
//! (`decide --save`) from the log-signed checkpoint of their
//! acknowledgement to the ledger's newest cosigned checkpoint, once it
//! satisfies the gate's witness quorum.
//!
//! For each `<id>.tlog-proof` beside its `<id>.cose`: a proof that already
//! meets the quorum is left alone; otherwise the ledger's
//! `GET /v1/proofs/tlog-proof?index=N` is fetched and accepted only if the
//! receipt's inclusion verifies under the log key, the witness quorum is
//! met, and the new checkpoint is consistent with the old one
//! (`GET /v1/proofs/consistency`): the history the gate was acknowledged
//! in is a prefix of the witnessed one. Then the file is replaced
//! atomically (written, fsynced, renamed). Nothing else is ever written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_api::cose::MAX_COSE_BYTES;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Sha256, verify_consistency};
use cairn_api::note::Checkpoint;
use cairn_api::proof::{MAX_TLOG_PROOF_BYTES, TlogProof};
use cairn_api::wire::ConsistencyProof;
use cairn_api::witness::WitnessPolicy;

use crate::client::Http;

/// The bound on one call to the ledger.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most proof files one run looks at.
pub const MAX_FILES: usize = 100_000;

/// What happened to one proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Its checkpoint already meets the quorum.
    AlreadyWitnessed,
    /// Replaced by a proof against the cosigned checkpoint of this size.
    Upgraded(u64),
    /// The ledger has no cosigned checkpoint meeting the quorum for it yet
    /// (the names are the witnesses that did cosign).
    Pending(Vec<String>),
    /// It could not be upgraded: the reason (a file that does not verify,
    /// a ledger that answers something that does not verify).
    Failed(String),
}

/// The run's results, by file.
#[derive(Debug, Clone, Default)]
pub struct Refreshed {
    /// (file, outcome), in file-name order.
    pub files: Vec<(PathBuf, Outcome)>,
}

impl Refreshed {
    /// How many files had `pred`.
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.files.iter().filter(|(_, o)| pred(o)).count()
    }
}

/// The directory could not be listed: the caller's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Listing the directory failed.
    #[error("{path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn cosigners(
    policy: &WitnessPolicy,
    proof: &TlogProof,
    body: &[u8],
    log_key: &VerifierKey,
) -> Result<(Checkpoint, Vec<VerifierKey>), String> {
    let (_, cp, cosigs) = proof
        .verify_body(body, log_key, &policy.keys())
        .map_err(|e| e.to_string())?;
    Ok((cp, cosigs.into_iter().map(|c| c.key).collect()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tlog-proof.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Refresh one proof file.
pub fn refresh_one(path: &Path, ledger: &Http, log_key: &VerifierKey, policy: &WitnessPolicy) -> Outcome {
    let read = |p: &Path, limit: usize| cairn_host::file::read_bounded(p, limit as u64).map_err(|e| e.to_string());
    let old = match read(path, MAX_TLOG_PROOF_BYTES).and_then(|b| TlogProof::parse(&b).map_err(|e| e.to_string())) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e),
    };
    let body = match read(&path.with_extension("cose"), MAX_COSE_BYTES) {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(format!("its receipt: {e}")),
    };
    let (old_cp, keys) = match cosigners(policy, &old, &body, log_key) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("the saved proof does not verify: {e}")),
    };
    if policy.quorum_met(&keys) {
        return Outcome::AlreadyWitnessed;
    }
    let fetched = ledger
        .get(
            &format!("/v1/proofs/tlog-proof?index={}", old.index),
            MAX_TLOG_PROOF_BYTES as u64,
            CALL_TIMEOUT,
        )
        .map_err(|e| e.to_string())
        .and_then(|(status, b)| match status {
            200 => TlogProof::parse(&b).map_err(|e| format!("the ledger's proof: {e}")),
            s => Err(format!(
                "the ledger answered {s}: {}",
                String::from_utf8_lossy(&b[..b.len().min(300)])
            )),
        });
    let new = match fetched {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e),
    };
    let (new_cp, keys) = match cosigners(policy, &new, &body, log_key) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("the ledger's proof does not verify: {e}")),
    };
    if new.index != old.index {
        return Outcome::Failed(format!(
            "the ledger's proof is for entry {}, not {}",
            new.index, old.index
        ));
    }
    if !policy.quorum_met(&keys) {
        return Outcome::Pending(policy.names_of(&keys));
    }
    if let Err(e) = consistent(ledger, &old_cp, &new_cp) {
        return Outcome::Failed(format!(
            "the witnessed checkpoint {} is not consistent with the acknowledged {}: {e}",
            new_cp.size, old_cp.size
        ));
    }
    match write_atomically(path, new.to_text().as_bytes()) {
        Ok(()) => Outcome::Upgraded(new_cp.size),
        Err(e) => Outcome::Failed(format!("{}: {e}", path.display())),
    }
}

/// The old checkpoint's tree is a prefix of the new one's.
fn consistent(ledger: &Http, old: &Checkpoint, new: &Checkpoint) -> Result<(), String> {
    if new.size < old.size {
        return Err("it is smaller".into());
    }
    let proof = if new.size == old.size {
        Vec::new()
    } else {
        let (status, b) = ledger
            .get(
                &format!("/v1/proofs/consistency?from={}&to={}", old.size, new.size),
                64 * 1024,
                CALL_TIMEOUT,
            )
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("the consistency proof: the ledger answered {status}"));
        }
        serde_json::from_slice::<ConsistencyProof>(&b)
            .map_err(|e| format!("the consistency proof: {e}"))?
            .proof
    };
    verify_consistency::<Sha256>(old.size, new.size, &proof, old.root.as_bytes(), new.root.as_bytes())
        .map_err(|e| e.to_string())
}

/// Refresh every `*.tlog-proof` in `dir`.
pub fn refresh_dir(
    dir: &Path,
    ledger: &Http,
    log_key: &VerifierKey,
    policy: &WitnessPolicy,
) -> Result<Refreshed, RefreshError> {
    let err = |source| RefreshError::Dir {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("tlog-proof"))
        .take(MAX_FILES)
        .collect();
    paths.sort();
    let files = paths
        .into_iter()
        .map(|p| {
            let o = refresh_one(&p, ledger, log_key, policy);
            (p, o)
        })
        .collect();
    Ok(Refreshed { files })
}
