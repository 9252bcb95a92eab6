//! Fixed example data: test keys from fixed seeds and realistic receipts.
//!
//! Used by the test vectors, the benchmarks, the documentation and tests in
//! other crates. Every value is deterministic. The keys are public test keys:
//! never use them for anything real.

use serde_json::json;

use crate::keys::{KeyType, SignerKey};
use crate::merkle::{MerkleHasher, Sha256};
use crate::receipt::*;
use crate::timestamp::Timestamp;

/// 2026-11-21T13:00:00.000Z, the examples' "now".
pub const EXAMPLE_NOW_MS: u64 = 1_795_266_000_000;

fn key(name: &str, key_type: KeyType, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, key_type, &[seed; 32]).unwrap_or_else(|e| unreachable!("example key {name}: {e}"))
}

/// The example log's key (`log.example/cairn`).
pub fn log_key() -> SignerKey {
    key("log.example/cairn", KeyType::Ed25519, 0x11)
}
/// The example authority key.
pub fn authority_key() -> SignerKey {
    key("authority.example/root", KeyType::Ed25519, 0x22)
}
/// The example gate key (`gate.example/eks-proxy`).
pub fn gate_key() -> SignerKey {
    key("gate.example/eks-proxy", KeyType::Ed25519, 0x33)
}
/// The example operator key (break-glass).
pub fn operator_key() -> SignerKey {
    key("operator.example/alice", KeyType::Ed25519, 0x44)
}
/// The example witness key (cosignatures).
pub fn witness_key() -> SignerKey {
    key("witness.example/w1", KeyType::Cosignature, 0x55)
}

/// A second example witness key.
pub fn witness2_key() -> SignerKey {
    key("witness.example/w2", KeyType::Cosignature, 0x56)
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms.min(crate::timestamp::MAX_TIMESTAMP_MS)).unwrap_or_else(|_| unreachable!())
}

/// A UUIDv7 for example receipt `n` at `ms`.
pub fn receipt_id(ms: u64, n: u64) -> String {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | ((n >> 56) as u8 & 0x0f);
    b[7] = (n >> 48) as u8;
    b[8] = 0x80 | ((n >> 40) as u8 & 0x3f);
    b[9..16].copy_from_slice(&n.to_be_bytes()[1..]);
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

/// Example receipt `n`: alternates surfaces, actions and decisions; every
/// fourth needs an approval, every tenth is a break-glass.
pub fn receipt_parts(n: u64) -> ReceiptParts {
    let now = EXAMPLE_NOW_MS + n * 1000;
    let surfaces = ["eks", "github", "postgres", "s3"];
    let targets = ["production", "staging", "org/payments", "analytics"];
    let actions = ["delete", "apply", "read", "write"];
    let i = (n % 4) as usize;
    let decision = match n % 3 {
        0 => Decision::Permit,
        1 => Decision::Deny,
        _ => Decision::Silence,
    };
    let bundle_hash = Sha256::digest(&[b"example bundle"]);
    let request = Request {
        subject: Subject {
            kind: "agent".into(),
            id: "agent:devops-helper".into(),
            properties: Some(
                json!({"model": "example-model-1", "team": "platform"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        },
        action: Action {
            name: actions[i].into(),
            properties: Some(
                json!({"args": ["--namespace", "payments"], "dry_run": false})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        },
        resource: Resource {
            kind: surfaces[i].into(),
            id: targets[i].into(),
            properties: None,
        },
        context: Some(
            json!({"ticket": format!("OPS-{}", 1000 + n), "attempt": 1})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
    };
    let (reason, errors, rules) = match decision {
        Decision::Permit => (
            Reason {
                code: "allowed".into(),
                user_message: "Action permitted by policy.".into(),
                admin_message: "rule allow-staging-apply matched".into(),
            },
            vec![],
            vec!["allow-staging-apply".into()],
        ),
        Decision::Deny => (
            Reason {
                code: "denied_by_rule".into(),
                user_message: format!(
                    "Action blocked by policy: agent:devops-helper is not authorized to {} on {}:{} (rule deny-agent-on-production)",
                    actions[i], surfaces[i], targets[i]
                ),
                admin_message: "explicit deny deny-agent-on-production".into(),
            },
            vec![],
            vec!["deny-agent-on-production".into()],
        ),
        Decision::Silence => (
            Reason {
                code: "evaluation_error".into(),
                user_message: "Action refused: the policy could not be evaluated.".into(),
                admin_message: "condition referenced a missing attribute".into(),
            },
            vec!["rule r7: /request/context/change_window is missing".into()],
            vec![],
        ),
    };
    let approval = n.is_multiple_of(4).then(|| Approval {
        required: true,
        channel: "terminal".into(),
        request_id: format!("apr-{n}"),
        approver: Some(Approver {
            iss: "https://idp.example".into(),
            sub: "alice@example.com".into(),
        }),
        presented: Some(Presented {
            binding_message: format!("Approve {} on {}:{}?", actions[i], surfaces[i], targets[i]),
            shown_digest: Sha256::digest(&[b"shown", &n.to_be_bytes()]),
            arguments_digest: Sha256::digest(&[b"args", &n.to_be_bytes()]),
        }),
        outcome: Some(ApprovalOutcome::Approved),
        requested_at: ts(now - 30_000),
        responded_at: Some(ts(now - 5_000)),
        expires_at: ts(now + 270_000),
    });
    let gate = gate_key();
    let id = receipt_id(now, n);
    let break_glass = (n % 10 == 9).then(|| {
        BreakGlass::sign(
            &operator_key(),
            "SEV-1 incident 4711: restore payments",
            ts(now + 3_600_000),
            &id,
            gate.name(),
            &request,
        )
    });
    ReceiptParts {
        v: RECEIPT_VERSION,
        receipt_id: id,
        gate: gate.name().into(),
        decided_at: ts(now),
        mode: if n % 7 == 6 { Mode::Shadow } else { Mode::Enforce },
        decision,
        request,
        reason,
        determining_rules: rules,
        errors,
        policy: PolicyRef {
            bundle_hash,
            bundle_id: "platform-agents".into(),
            revision: 42,
            engine: Engine {
                name: crate::policy::registry::CAIRN_RULES.name().into(),
                version: crate::policy::registry::CAIRN_RULES.version().into(),
            },
        },
        idempotency_key: format!("idem-{n:016x}"),
        nd_inputs: NdInputs {
            clock: ts(now),
            other: serde_json::Map::new(),
        },
        initiator: Some(Initiator {
            principal: "user:bob@example.com".into(),
            request_digest: Sha256::digest(&[b"please roll out payments", &n.to_be_bytes()]),
        }),
        approval,
        lineage: vec![
            LineageLink {
                iss: "https://idp.example".into(),
                sub: "bob@example.com".into(),
                sub_profile: SubProfile::Human,
                client_id: Some("console".into()),
                jti: Some(format!("jti-h-{n}")),
                iat: Some(ts(now - 600_000)),
                exp: Some(ts(now + 3_000_000)),
                aud: Some("agents".into()),
                scope: Some("deploy read".into()),
                token_hash: Sha256::digest(&[b"token-human", &n.to_be_bytes()]),
            },
            LineageLink {
                iss: "https://sts.example".into(),
                sub: "agent:devops-helper".into(),
                sub_profile: SubProfile::AiAgent,
                client_id: None,
                jti: Some(format!("jti-a-{n}")),
                iat: Some(ts(now - 60_000)),
                exp: Some(ts(now + 240_000)),
                aud: Some("eks-proxy".into()),
                scope: Some("deploy".into()),
                token_hash: Sha256::digest(&[b"token-agent", &n.to_be_bytes()]),
            },
        ],
        break_glass,
        trace: Some(Trace {
            trace_id: format!("{:032x}", 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128 ^ u128::from(n)),
            span_id: format!("{:016x}", 0x00f0_67aa_0ba9_02b7u64 ^ n),
        }),
    }
}

/// Example receipt `n`, validated.
pub fn receipt(n: u64) -> Receipt {
    match Receipt::new(receipt_parts(n)) {
        Ok(r) => r,
        Err(e) => unreachable!("example receipt {n} is invalid: {e}"),
    }
}

/// Example receipt 1 with what AuthZEN allows and JSON-minded encoders
/// stumble on: numbers with a fraction (recorded as decimal fractions),
/// an empty subject id, an empty key and an empty value.
pub fn authzen_edge_receipt() -> Receipt {
    let mut p = receipt_parts(1);
    p.request.subject.id = String::new();
    let ctx = p.request.context.get_or_insert_default();
    for (k, v) in [
        ("ratio", json!(0.5)),
        ("one", json!(1.0)),
        ("tiny", json!(-2.5e-8)),
        ("huge", json!(1e300)),
        ("", json!("")),
        ("list", json!([0.1, 2, {"": 3.25}])),
    ] {
        ctx.insert(k.into(), v);
    }
    match Receipt::new(p) {
        Ok(r) => r,
        Err(e) => unreachable!("the AuthZEN edge receipt is invalid: {e}"),
    }
}

/// Example receipt `n`, signed by [`gate_key`] as a COSE_Sign1.
pub fn signed_receipt(n: u64) -> Vec<u8> {
    match crate::cose::sign(&receipt(n).to_cbor(), RECEIPT_CONTENT_TYPE, &gate_key()) {
        Ok(b) => b,
        Err(e) => unreachable!("signing example receipt {n} failed: {e}"),
    }
}

/// The variant path of an error from its `Debug` form: `Encoding(
/// TrailingBytes(1))` gives `Encoding.TrailingBytes`, `RootMismatch { .. }`
/// gives `RootMismatch`. Test vectors name expected errors this way.
pub fn variant_path(debug: &str) -> String {
    let mut out = Vec::new();
    let mut rest = debug;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        rest = &rest[name.len()..];
        out.push(name);
        match rest.strip_prefix('(') {
            Some(inner) => rest = inner,
            None => break,
        }
    }
    out.join(".")
}

/// A log held in memory, for tests of what talks to logs (witnesses, proof
/// refreshers): its key, its leaves, signed checkpoints and
/// `add-checkpoint` requests at any size.
#[derive(Debug)]
pub struct TestLog {
    /// The log key; its name is the origin.
    pub key: SignerKey,
    /// The leaves.
    pub tree: crate::merkle::MemoryTree<Sha256>,
}

impl TestLog {
    /// An empty log named `origin` with the key of `seed`.
    pub fn new(origin: &str, seed: u8) -> Self {
        TestLog {
            key: SignerKey::from_seed(origin, KeyType::Ed25519, &[seed; 32]).unwrap_or_else(|_| log_key()),
            tree: crate::merkle::MemoryTree::new(),
        }
    }

    /// Append `n` leaves; `salt` makes histories differ.
    pub fn grow(&mut self, n: u64, salt: &str) {
        for i in 0..n {
            let size = self.tree.size();
            self.tree
                .append(Sha256::hash_leaf(format!("{salt}{size}-{i}").as_bytes()));
        }
    }

    /// The root at `size` (at most the current size).
    pub fn root(&self, size: u64) -> crate::merkle::Hash {
        crate::merkle::subtree_root::<Sha256, _>(&self.tree, 0, size).unwrap_or_default()
    }

    /// The signed checkpoint at `size`.
    pub fn checkpoint(&self, size: u64) -> String {
        crate::note::Checkpoint::new(self.key.name(), size, self.root(size))
            .sign(&self.key)
            .map(|n| n.to_text())
            .unwrap_or_default()
    }

    /// The consistency proof from `old` to `size` (empty from 0).
    pub fn proof(&self, old: u64, size: u64) -> Vec<crate::merkle::Hash> {
        if old == 0 {
            return Vec::new();
        }
        crate::merkle::consistency_proof::<Sha256, _>(&self.tree, old, size).unwrap_or_default()
    }

    /// The `add-checkpoint` body from `old` to `size`.
    pub fn request(&self, old: u64, size: u64) -> Vec<u8> {
        crate::witness::AddCheckpoint {
            old_size: old,
            proof: self.proof(old, size),
            checkpoint: self.checkpoint(size),
        }
        .to_bytes()
    }
}
