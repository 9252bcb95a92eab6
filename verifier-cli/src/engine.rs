//! The streaming verifier behind `audit` and `replay`.
//!
//! Items of an export arrive in order and are taken in batches. For each
//! batch: (1) in parallel, every entry is decoded and its leaf hash taken;
//! (2) in log order, the tree is extended, key statements and policy
//! bundles are checked against the authority keys and applied (each takes
//! effect from the next entry), every receipt is matched with the gate key
//! registered and not revoked at that point, and every checkpoint is
//! checked against the recomputed root; (3) in parallel, receipt
//! signatures, break-glass counter-signatures and replays. Memory holds one
//! batch, the tree's frontier, the key history and the bundle hashes (the
//! compiled bundles when replaying), whatever the size of the log.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_api::cose::Sign1;
use cairn_api::entry::{Entry, EntryKind, KEY_CONTENT_TYPE, KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::export::ExportItem;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Frontier, Hash, MerkleHasher, Sha256};
use cairn_api::note::Checkpoint;
use cairn_api::policy::{Bundle, Policy, Recorded, recorded, replay};
use cairn_api::receipt::SignedReceipt;
use rayon::prelude::*;

use crate::filters::Filters;
use crate::report::{Mismatch, Report};
use crate::trust::Trust;

/// Entries verified together (one batch in memory).
pub const BATCH_ENTRIES: usize = 2048;

/// What replay compares receipts with.
#[derive(Debug)]
pub enum ReplayWith {
    /// The bundle each receipt names, as archived in the log.
    Archived,
    /// A candidate bundle (what-if).
    Candidate(Candidate),
}

/// A candidate bundle for a what-if replay, and which receipts it is
/// compared with.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The compiled candidate.
    pub policy: Arc<Policy>,
    /// Its hash.
    pub hash: Hash,
    /// Its bundle id: by default only receipts decided under a bundle with
    /// this id (any revision) are replayed, the receipts it would replace.
    pub bundle_id: String,
    /// Replay every receipt on it, whatever bundle decided it.
    pub all_bundles: bool,
}

/// The replay part of a run.
#[derive(Debug)]
pub struct ReplayPlan {
    /// Which receipts.
    pub filters: Filters,
    /// Against what.
    pub with: ReplayWith,
}

#[derive(Debug, Clone)]
struct KeyState {
    key: VerifierKey,
    role: KeyRole,
    registered: bool,
}

enum Parsed {
    Receipt(Box<SignedReceipt>),
    Key(Box<(Sign1, KeyStatement)>),
    Policy(Sign1, Box<Bundle>),
    Bad(String),
}

struct ParsedEntry {
    index: u64,
    leaf: Hash,
    parsed: Parsed,
}

/// Work for the parallel phase.
struct Job<'a> {
    index: u64,
    receipt: &'a SignedReceipt,
    gate: Option<VerifierKey>,
    /// For a break-glass receipt: the operator key registered at this
    /// point under the name the block gives (`Some(None)`: none is).
    operator: Option<Option<VerifierKey>>,
    replay: Option<Arc<Policy>>,
}

/// The verifier's state across batches.
#[derive(Debug)]
pub struct Engine {
    trust: Option<Trust>,
    log_key: Option<VerifierKey>,
    frontier: Frontier<Sha256>,
    keys: HashMap<String, KeyState>,
    /// Archived bundles: the manifest each receipt's policy fields must match.
    bundles: HashMap<Hash, cairn_api::policy::Manifest>,
    policies: HashMap<Hash, Result<Arc<Policy>, String>>,
    replay: Option<ReplayPlan>,
    /// A root the tree must have at a size (from the state file).
    expect: Option<(u64, Hash)>,
    /// What the witnesses cosigned: the tree must have their roots.
    witness_views: Vec<crate::witness_views::WitnessView>,
    /// The witness views the tree reached (and so checked).
    pub witness_views_checked: Vec<crate::witness_views::WitnessView>,
    /// The last checkpoint that verified: size, root, note.
    pub last_checkpoint: Option<(u64, Hash, String)>,
    /// What was found.
    pub report: Report,
}

impl Engine {
    /// A verifier; `trust` absent means signatures are not checked (replay only).
    pub fn new(trust: Option<Trust>, replay: Option<ReplayPlan>, expect: Option<(u64, Hash)>) -> Self {
        Engine {
            trust,
            log_key: None,
            frontier: Frontier::new(),
            keys: HashMap::new(),
            bundles: HashMap::new(),
            policies: HashMap::new(),
            replay,
            expect,
            witness_views: Vec::new(),
            witness_views_checked: Vec::new(),
            last_checkpoint: None,
            report: Report::default(),
        }
    }

    /// Require the tree to have each view's root at its size (views of
    /// other logs are ignored).
    pub fn expect_witness_views(&mut self, views: Vec<crate::witness_views::WitnessView>) {
        self.witness_views = views;
    }

    fn check_witness_views(&mut self) {
        let size = self.frontier.size();
        let origin = &self.report.origin;
        let due: Vec<_> = self
            .witness_views
            .iter()
            .filter(|v| v.size == size && &v.origin == origin)
            .cloned()
            .collect();
        for v in due {
            if self.frontier.root() != v.root {
                self.report.fail(
                    None,
                    format!(
                        "fork: witness {} cosigned size {size} of this log with root {} (signed by the log key), \
                         but the log shown to this audit has root {} at that size",
                        v.witness,
                        v.root,
                        self.frontier.root()
                    ),
                );
            }
            self.witness_views_checked.push(v);
        }
    }

    /// The tree as recomputed so far.
    pub fn frontier(&self) -> &Frontier<Sha256> {
        &self.frontier
    }

    /// The export's header: the origin must be a trusted log's.
    pub fn header(&mut self, origin: &str, from: u64) {
        self.report.origin = origin.to_owned();
        if from != 0 {
            // Entries before `from` would be needed to recompute the tree.
            self.report.fail(
                None,
                format!("the export starts at entry {from}; an audit needs it from 0"),
            );
        }
        if let Some(t) = &self.trust {
            match t.log_key(origin) {
                Some(k) => self.log_key = Some(k.clone()),
                None => self.report.fail(
                    None,
                    format!("the log's origin {origin:?} is not a log in the trust file"),
                ),
            }
        }
    }

    /// Verify one batch of entries and checkpoints, in log order.
    pub fn batch(&mut self, items: Vec<ExportItem>) {
        // (1) Decode in parallel.
        let parsed: Vec<Option<ParsedEntry>> = items
            .par_iter()
            .map(|item| match item {
                ExportItem::Entry { index, bytes } => Some(parse_entry(*index, bytes)),
                _ => None,
            })
            .collect();
        // (2) In order.
        let mut jobs = Vec::new();
        for (item, p) in items.iter().zip(&parsed) {
            match (item, p) {
                (_, Some(p)) => {
                    self.frontier.append(p.leaf);
                    if let Some(job) = self.sequential(p) {
                        jobs.push(job);
                    }
                    if !self.witness_views.is_empty() {
                        self.check_witness_views();
                    }
                    if let Some((size, root)) = self.expect
                        && size == self.frontier.size()
                    {
                        self.report.state_checked = true;
                        if self.frontier.root() != root {
                            self.report.fail(
                                None,
                                format!(
                                    "fork: the tree at size {size} has root {}, but the last audit recorded {root}",
                                    self.frontier.root()
                                ),
                            );
                        }
                    }
                }
                (ExportItem::Checkpoint { size, note }, None) => self.checkpoint(*size, note),
                _ => {}
            }
        }
        // (3) Signatures and replays in parallel.
        let results: Vec<(u64, Vec<String>, Option<Mismatch>, bool)> = jobs.par_iter().map(run_job).collect();
        for (index, failures, mismatch, replayed) in results {
            let valid = failures.is_empty();
            for f in failures {
                self.report.fail(Some(index), f);
            }
            if valid {
                self.report.receipts_valid += 1;
            }
            if replayed {
                self.report.replayed += 1;
            }
            if let Some(m) = mismatch {
                self.report.mismatch(m);
            }
        }
    }

    fn sequential<'a>(&mut self, p: &'a ParsedEntry) -> Option<Job<'a>> {
        let index = p.index;
        match &p.parsed {
            Parsed::Bad(why) => {
                self.report.fail(Some(index), format!("malformed entry: {why}"));
                None
            }
            Parsed::Key(k) => {
                let (msg, st) = &**k;
                self.report.keys_total += 1;
                if self.authority_signed(index, msg, "key statement") {
                    let standing = self.keys.get(&st.key.key_ref()).map(|k| (k.role, k.registered));
                    if let Err(e) = cairn_api::key_history::check_transition(standing, st.action, st.role) {
                        self.report.fail(
                            Some(index),
                            format!(
                                "key statement for {} does not follow its history: {e}",
                                st.key.key_ref()
                            ),
                        );
                        return None;
                    }
                    self.report.keys_valid += 1;
                    self.keys.insert(
                        st.key.key_ref(),
                        KeyState {
                            key: st.key.clone(),
                            role: st.role,
                            registered: st.action == KeyAction::Register,
                        },
                    );
                }
                None
            }
            Parsed::Policy(msg, bundle) => {
                self.report.bundles_total += 1;
                if self.authority_signed(index, msg, "policy bundle") {
                    self.report.bundles_valid += 1;
                    let hash = bundle.hash();
                    self.bundles.entry(hash).or_insert_with(|| bundle.manifest().clone());
                    if self.replay.is_some() {
                        self.policies
                            .entry(hash)
                            .or_insert_with(|| Policy::compile(bundle).map(Arc::new).map_err(|e| e.to_string()));
                    }
                }
                None
            }
            Parsed::Receipt(signed) => self.receipt(index, signed),
        }
    }

    fn authority_signed(&mut self, index: u64, msg: &Sign1, what: &str) -> bool {
        let Some(trust) = &self.trust else { return true };
        match trust.authority(msg.kid()) {
            None => {
                self.report.fail(
                    Some(index),
                    format!("{what} signed by {}, not a trusted authority", msg.kid()),
                );
                false
            }
            Some(k) => match msg.verify(k) {
                Ok(()) => true,
                Err(e) => {
                    self.report
                        .fail(Some(index), format!("{what}: bad authority signature: {e}"));
                    false
                }
            },
        }
    }

    fn receipt<'a>(&mut self, index: u64, signed: &'a SignedReceipt) -> Option<Job<'a>> {
        self.report.receipts_total += 1;
        let parts = signed.unverified().parts();
        let mut gate = None;
        if let Some(trust) = &self.trust {
            let kid = signed.kid();
            let problem = match self.keys.get(kid) {
                None => Some(format!("signed by {kid}, which no earlier entry registered")),
                Some(k) if !k.registered => Some(format!("signed by {kid}, which an earlier entry revoked")),
                Some(k) if k.role != KeyRole::Gate => Some(format!("signed by {kid}, which is not a gate key")),
                Some(k) if !trust.gate_pinned(&k.key) => {
                    Some(format!("signed by {kid}, which is not a gate key the trust file pins"))
                }
                Some(k) => {
                    gate = Some(k.key.clone());
                    None
                }
            };
            if let Some(p) = problem {
                self.report.fail(Some(index), p);
                return None;
            }
        }
        let bundle = parts.policy.bundle_hash;
        let Some(manifest) = self.bundles.get(&bundle) else {
            self.report.fail(
                Some(index),
                format!("names policy bundle {bundle}, which no earlier entry archived"),
            );
            return None;
        };
        if let Err(e) = cairn_api::policy::check_policy_ref(&parts.policy, manifest) {
            self.report
                .fail(Some(index), format!("names policy bundle {bundle}, but {e}"));
            return None;
        }
        // What the log says about the operator the block names, for the
        // one break-glass rule the ledger applies too.
        let operator = parts.break_glass.as_ref().map(|bg| match self.keys.get(&bg.operator) {
            Some(k) if k.registered && k.role == KeyRole::Operator => Some(k.key.clone()),
            _ => None,
        });
        let in_scope = |plan: &ReplayPlan| match &plan.with {
            ReplayWith::Candidate(c) => c.all_bundles || parts.policy.bundle_id == c.bundle_id,
            ReplayWith::Archived => true,
        };
        let matching = self.replay.as_ref().is_some_and(|plan| plan.filters.matches(parts));
        let selected = matching && self.replay.as_ref().is_some_and(in_scope);
        if matching && !selected {
            self.report.out_of_scope += 1;
        }
        match recorded(parts) {
            Recorded::PolicyDecision => {}
            // Not a policy's decision: counted, never compared.
            Recorded::Override if selected => self.report.overrides += 1,
            _ if selected => self.report.fail_closed += 1,
            _ => {}
        }
        let replay = match &self.replay {
            Some(plan) if selected && recorded(parts) == Recorded::PolicyDecision => match &plan.with {
                ReplayWith::Candidate(c) => Some(c.policy.clone()),
                ReplayWith::Archived => match self.policies.get(&bundle) {
                    Some(Ok(p)) => Some(p.clone()),
                    Some(Err(e)) => {
                        self.report.cannot_replay(index, format!("bundle {bundle}: {e}"));
                        None
                    }
                    None => None,
                },
            },
            _ => None,
        };
        Some(Job {
            index,
            receipt: signed,
            gate,
            operator,
            replay,
        })
    }

    fn checkpoint(&mut self, size: u64, note: &str) {
        self.report.checkpoints_total += 1;
        let Some(log_key) = &self.log_key else {
            if self.trust.is_none() {
                // Replay without a trust file: the root is still compared.
                self.compare_root(size, note, None);
            }
            return;
        };
        let witnesses = self.trust.as_ref().map(Trust::witness_keys).unwrap_or_default();
        match Checkpoint::verify(note.as_bytes(), log_key, &witnesses) {
            Err(e) => self.report.fail(None, format!("checkpoint {size}: {e}")),
            Ok((cp, _, _)) => {
                let key = log_key.clone();
                self.compare_root(size, note, Some((cp, key)));
            }
        }
    }

    fn compare_root(&mut self, size: u64, note: &str, verified: Option<(Checkpoint, VerifierKey)>) {
        let cp = match verified {
            Some((cp, _)) => cp,
            None => match cairn_api::note::SignedNote::parse(note.as_bytes())
                .ok()
                .and_then(|n| Checkpoint::parse(n.text()).ok())
            {
                Some(cp) => cp,
                None => {
                    self.report.fail(None, format!("checkpoint {size}: does not parse"));
                    return;
                }
            },
        };
        let root = self.frontier.root();
        if cp.size != size || cp.size != self.frontier.size() {
            self.report.fail(
                None,
                format!(
                    "checkpoint {size}: its note says size {}, after {} entries",
                    cp.size,
                    self.frontier.size()
                ),
            );
        } else if cp.root != root {
            // The entries since the last checkpoint that held are where the
            // difference is (earlier ones are fixed by that checkpoint).
            let first = self.last_checkpoint.as_ref().map_or(0, |(s, _, _)| *s);
            self.report.fail(
                Some(first),
                format!(
                    "checkpoint {size}: the signed root {} is not the root of the entries ({root}): \
                     an entry in {first}..={} is not what the log signed",
                    cp.root,
                    size - 1
                ),
            );
        } else {
            self.report.checkpoints_valid += 1;
            self.last_checkpoint = Some((size, root, note.to_owned()));
        }
    }
}

fn parse_entry(index: u64, bytes: &[u8]) -> ParsedEntry {
    let leaf = Sha256::hash_leaf(bytes);
    let parsed = (|| {
        let entry = Entry::from_cbor(bytes).map_err(|e| e.to_string())?;
        Ok::<_, String>(match entry.kind() {
            EntryKind::Receipt => Parsed::Receipt(Box::new(entry.receipt().map_err(|e| e.to_string())?)),
            EntryKind::Key => {
                let msg = Sign1::parse(entry.body(), KEY_CONTENT_TYPE).map_err(|e| e.to_string())?;
                let st = KeyStatement::from_cbor(msg.payload()).map_err(|e| e.to_string())?;
                Parsed::Key(Box::new((msg, st)))
            }
            EntryKind::Policy => {
                let msg = Sign1::parse(entry.body(), POLICY_CONTENT_TYPE).map_err(|e| e.to_string())?;
                let bundle = Bundle::from_bytes(msg.payload()).map_err(|e| e.to_string())?;
                Parsed::Policy(msg, Box::new(bundle))
            }
            _ => return Err("unknown entry type".into()),
        })
    })()
    .unwrap_or_else(Parsed::Bad);
    ParsedEntry { index, leaf, parsed }
}

fn run_job(job: &Job<'_>) -> (u64, Vec<String>, Option<Mismatch>, bool) {
    let mut failures = Vec::new();
    if let Some(gate) = &job.gate
        && let Err(e) = job.receipt.verify(gate)
    {
        failures.push(format!("gate signature: {e}"));
    }
    let receipt = job.receipt.unverified();
    if let Some(op) = &job.operator {
        match receipt.check_break_glass(op.as_ref()) {
            Ok(()) => {}
            Err(e @ cairn_api::receipt::ReceiptError::UnregisteredOperator(_)) => failures.push(e.to_string()),
            Err(e) => failures.push(format!("break-glass counter-signature: {e}")),
        }
    }
    let mut mismatch = None;
    let replayed = job.replay.is_some();
    if let Some(policy) = &job.replay {
        let r = replay(policy, receipt.parts());
        if !r.matches {
            let p = receipt.parts();
            mismatch = Some(Mismatch {
                index: job.index,
                subject: p.request.subject.id.clone(),
                action: p.request.action.name.clone(),
                target: format!("{}:{}", p.request.resource.kind, p.request.resource.id),
                recorded: r.recorded.as_str().to_owned(),
                recorded_rules: r.recorded_rules,
                replayed: r.replayed.decision.as_str().to_owned(),
                replayed_rules: r.replayed.determining_rules,
            });
        }
    }
    (job.index, failures, mismatch, replayed)
}
