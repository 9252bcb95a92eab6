//! What the trust file's witnesses say they cosigned: for each witness
//! with a URL, its latest cosigned checkpoint of each trusted log
//! (`GET <url>/logs`), kept only when both the log's signature and that
//! witness's cosignature verify. The audit then requires the audited tree
//! to have the same root at that size: a log that showed the witnesses one
//! history and this auditor another is caught here, by name.

use cairn_api::keys::VerifierKey;
use cairn_api::merkle::Hash;
use cairn_api::note::Checkpoint;
use cairn_api::witness::wire::WitnessedLogs;

use crate::source::Ledger;
use crate::trust::Trust;

/// One witness's cosigned view of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessView {
    /// The witness's name in the trust file.
    pub witness: String,
    /// The log's origin.
    pub origin: String,
    /// The cosigned size.
    pub size: u64,
    /// The cosigned root.
    pub root: Hash,
    /// When the witness cosigned it (POSIX seconds).
    pub cosigned_at: u64,
}

/// Ask every witness with a URL. Returns the views that verify, and a line
/// for each witness that could not be asked or answered something that
/// does not verify (for the report's "not checked").
pub fn fetch(trust: &Trust) -> (Vec<WitnessView>, Vec<String>) {
    let mut views = Vec::new();
    let mut problems = Vec::new();
    for w in trust.witnesses.witnesses() {
        let Some(url) = &w.url else { continue };
        let answer = Ledger::new(url)
            .map_err(|e| e.to_string())
            .and_then(|l| l.get_wire::<WitnessedLogs>("/logs").map_err(|e| e.to_string()));
        let logs = match answer {
            Ok(l) => l.logs,
            Err(e) => {
                problems.push(format!("witness {}'s view: {e}", w.name));
                continue;
            }
        };
        for l in logs {
            let Some(log_key) = trust.log_key(&l.origin) else {
                continue;
            };
            match view(&w.name, &w.key, log_key, &l.checkpoint) {
                Ok(v) => views.push(v),
                Err(e) => problems.push(format!("witness {}'s view of {}: {e}", w.name, l.origin)),
            }
        }
    }
    (views, problems)
}

fn view(name: &str, key: &VerifierKey, log_key: &VerifierKey, note: &str) -> Result<WitnessView, String> {
    let (cp, _, cosigs) =
        Checkpoint::verify(note.as_bytes(), log_key, std::slice::from_ref(key)).map_err(|e| e.to_string())?;
    let ours = cosigs
        .into_iter()
        .find(|c| c.key == *key)
        .ok_or("the checkpoint it serves carries no cosignature of its own")?;
    Ok(WitnessView {
        witness: name.to_owned(),
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        cosigned_at: ours.timestamp.unwrap_or_default(),
    })
}
