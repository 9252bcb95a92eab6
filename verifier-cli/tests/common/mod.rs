//! A log built with cairn-api alone (what a ledger writes, without one):
//! key statements, a policy bundle, receipts decided by it, checkpoints
//! signed by a log key, and the export of it all. Tests tamper with it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_api::cose;
use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::export::ExportItem;
use cairn_api::keys::SignerKey;
use cairn_api::merkle::{MemoryTree, MerkleHasher, Sha256};
use cairn_api::note::Checkpoint;
use cairn_api::policy::{Bundle, DecisionInput, Policy};
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_api::timestamp::Timestamp;

/// The devops-staging rules.
pub const RULES: &str = include_str!("../../../examples/policies/devops-staging/cairn-rules/rules.toml");

/// A bundle of `rules`.
pub fn bundle_of(id: &str, rules: &str) -> Bundle {
    let mut files = std::collections::BTreeMap::new();
    files.insert("rules.toml".to_owned(), rules.as_bytes().to_vec());
    let engine = cairn_api::policy::registry::CAIRN_RULES.engine_ref();
    Bundle::new(
        id,
        1,
        engine,
        Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
        files,
    )
    .unwrap()
}

/// The devops-staging bundle.
pub fn bundle() -> Bundle {
    bundle_of("devops-staging", RULES)
}

/// Receipt `n` (example request `n`), decided by `policy` under `bundle`,
/// signed by `gate`.
pub fn receipt(n: u64, bundle: &Bundle, gate: &SignerKey) -> Vec<u8> {
    receipt_at(n, bundle, gate, None)
}

/// [`receipt`], decided at `decided_at` (ms) when given.
pub fn receipt_at(n: u64, bundle: &Bundle, gate: &SignerKey, decided_at: Option<u64>) -> Vec<u8> {
    let policy = Policy::compile(bundle).unwrap();
    let mut p = examples::receipt_parts(n);
    if let Some(t) = decided_at {
        p.decided_at = Timestamp::from_millis(t).unwrap();
        p.nd_inputs.clock = p.decided_at;
        p.receipt_id = examples::receipt_id(t, n);
    }
    // Requests the devops-staging rules decide both ways.
    let actions = [
        "get_pods",
        "delete_pod",
        "scale_deployment",
        "apply_manifest",
        "list_deployments",
    ];
    p.request.subject.id = "agent:devops-helper".into();
    p.request.resource.kind = "eks".into();
    p.request.action.name = actions[(n % 5) as usize].into();
    p.request.resource.id = format!("{}:ns-{n}", if n.is_multiple_of(3) { "production" } else { "staging" });
    // The break-glass signature bound the example request.
    p.break_glass = None;
    p.policy = cairn_api::policy::policy_ref(bundle);
    let d = policy.decide(&DecisionInput::from_receipt(&p));
    p.decision = d.decision;
    p.determining_rules = d.determining_rules;
    p.reason = d.reason;
    p.errors = d.errors;
    SignedReceipt::sign(Receipt::new(p).unwrap(), gate).unwrap().1
}

/// An authority-signed key statement.
pub fn key_statement(action: KeyAction, role: KeyRole, key: &SignerKey, authority: &SignerKey) -> Vec<u8> {
    KeyStatement {
        action,
        role,
        key: key.verifier(),
        issued_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
        reason: None,
    }
    .sign(authority)
    .unwrap()
}

/// A log under construction.
pub struct Log {
    /// Entry bytes, in order.
    pub entries: Vec<Vec<u8>>,
    /// (size, note) of every checkpoint, in order.
    pub checkpoints: Vec<(u64, String)>,
    tree: MemoryTree<Sha256>,
    /// The key checkpoints are signed with.
    pub log_key: SignerKey,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
            checkpoints: Vec::new(),
            tree: MemoryTree::new(),
            log_key: examples::log_key(),
        }
    }
}

impl Log {
    /// Append an entry.
    pub fn append(&mut self, kind: EntryKind, body: Vec<u8>) -> u64 {
        let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + self.entries.len() as u64).unwrap();
        let bytes = Entry::new(kind, at, body).unwrap().to_cbor();
        self.tree.append(Sha256::hash_leaf(&bytes));
        self.entries.push(bytes);
        self.entries.len() as u64 - 1
    }

    /// Append raw entry bytes (whatever they are).
    pub fn append_raw(&mut self, bytes: Vec<u8>) {
        self.tree.append(Sha256::hash_leaf(&bytes));
        self.entries.push(bytes);
    }

    /// Sign a checkpoint of the current size.
    pub fn checkpoint(&mut self) {
        let note = Checkpoint::new(self.log_key.name(), self.tree.size(), self.tree.root())
            .sign(&self.log_key)
            .unwrap();
        self.checkpoints.push((self.tree.size(), note.to_text()));
    }

    /// The tree.
    pub fn tree(&self) -> &MemoryTree<Sha256> {
        &self.tree
    }

    /// The gate and operator registered, the bundle archived, then
    /// `receipts` receipts, a checkpoint every `per_checkpoint` entries and
    /// at the end.
    pub fn standard(receipts: u64, per_checkpoint: usize) -> Log {
        let mut log = Log::default();
        let auth = examples::authority_key();
        log.append(
            EntryKind::Key,
            key_statement(KeyAction::Register, KeyRole::Gate, &examples::gate_key(), &auth),
        );
        log.append(
            EntryKind::Key,
            key_statement(KeyAction::Register, KeyRole::Operator, &examples::operator_key(), &auth),
        );
        log.append(
            EntryKind::Policy,
            cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap(),
        );
        log.checkpoint();
        let b = bundle();
        for n in 0..receipts {
            log.append(EntryKind::Receipt, receipt(n, &b, &examples::gate_key()));
            if log.entries.len().is_multiple_of(per_checkpoint) {
                log.checkpoint();
            }
        }
        if log.checkpoints.last().map(|c| c.0) != Some(log.entries.len() as u64) {
            log.checkpoint();
        }
        log
    }

    /// The gate key revoked, then receipt `n` signed by it anyway, and a
    /// checkpoint: a log every entry of which is properly signed, and that
    /// still must not verify.
    pub fn revoke_gate_then_sign(&mut self, n: u64) {
        let (gate, auth) = (examples::gate_key(), examples::authority_key());
        self.append(
            EntryKind::Key,
            key_statement(KeyAction::Revoke, KeyRole::Gate, &gate, &auth),
        );
        self.append(EntryKind::Receipt, receipt(n, &bundle(), &gate));
        self.checkpoint();
    }

    /// The export (docs/spec.md section 18).
    pub fn export(&self) -> Vec<u8> {
        let mut out = ExportItem::Header {
            origin: self.log_key.name().to_owned(),
            from: 0,
        }
        .encode();
        let mut cps = self.checkpoints.iter().peekable();
        for (i, e) in self.entries.iter().enumerate() {
            out.extend(
                ExportItem::Entry {
                    index: i as u64,
                    bytes: e.clone(),
                }
                .encode(),
            );
            while let Some((size, note)) = cps.peek() {
                if *size != i as u64 + 1 {
                    break;
                }
                out.extend(
                    ExportItem::Checkpoint {
                        size: *size,
                        note: note.clone(),
                    }
                    .encode(),
                );
                cps.next();
            }
        }
        out
    }
}

/// The trust file for the example keys.
pub fn trust_text() -> String {
    format!(
        "log {}\nauthority {}\n",
        examples::log_key().verifier(),
        examples::authority_key().verifier()
    )
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh one.
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("cairn-verify-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    /// Write a file in it.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run cairn-verify.
pub fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .args(args)
        .output()
        .unwrap()
}

/// Run cairn-verify with paths.
pub fn verify_paths(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .args(args)
        .output()
        .unwrap()
}

/// Audit an export file with the example trust; the JSON report and the exit code.
pub fn audit_export(dir: &TempDir, export: &[u8], state: Option<&Path>) -> (i32, serde_json::Value) {
    let e = dir.write("export.cbor", export);
    let t = dir.write("trust", trust_text());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-verify"));
    cmd.args(["audit", "--json", "--export"]).arg(&e).arg("--trust").arg(&t);
    if let Some(s) = state {
        cmd.arg("--state").arg(s);
    }
    let out = cmd.output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

/// The failure texts of a JSON report.
pub fn failures(v: &serde_json::Value) -> Vec<String> {
    v["failures"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match f["index"].as_u64() {
            Some(i) => format!("entry {i}: {}", f["what"].as_str().unwrap()),
            None => f["what"].as_str().unwrap().to_owned(),
        })
        .collect()
}
