//! One receipt, its signature, its proof of inclusion, checked offline
//! (`cairn-verify receipt`).

use cairn_api::keys::VerifierKey;
use cairn_api::proof::TlogProof;
use cairn_api::receipt::SignedReceipt;
use cairn_api::witness::WitnessPolicy;

/// What `receipt` found: each check and whether it held, what it could
/// not check, and a one-line summary of the receipt.
#[derive(Debug, Clone, Default)]
pub struct ReceiptReport {
    /// (held, what) for every check made.
    pub checks: Vec<(bool, String)>,
    /// What could not be checked, and why.
    pub not_checked: Vec<String>,
    /// The receipt in one line, once its payload decoded.
    pub summary: Option<String>,
}

impl ReceiptReport {
    fn ok(&mut self, what: String) {
        self.checks.push((true, what));
    }
    fn fail(&mut self, what: String) {
        self.checks.push((false, what));
    }
    /// Whether every check held.
    pub fn valid(&self) -> bool {
        self.checks.iter().all(|c| c.0)
    }
}

/// Check a signed receipt (`body`, COSE_Sign1 bytes): its payload, its
/// gate signature when `gate_key` is given, a break-glass counter-signature
/// when `operator_key` is given, and its inclusion when its tlog-proof
/// (`proof`: the file's bytes, or why it could not be read) and the log
/// key are given.
pub fn check(
    body: &[u8],
    proof: Option<Result<Vec<u8>, String>>,
    log_key: Option<&VerifierKey>,
    gate_key: Option<&VerifierKey>,
    operator_key: Option<&VerifierKey>,
) -> ReceiptReport {
    check_witnessed(body, proof, log_key, gate_key, operator_key, None)
}

/// [`check`], and the witness policy's quorum on the proof's checkpoint
/// when `witnesses` is given.
pub fn check_witnessed(
    body: &[u8],
    proof: Option<Result<Vec<u8>, String>>,
    log_key: Option<&VerifierKey>,
    gate_key: Option<&VerifierKey>,
    operator_key: Option<&VerifierKey>,
    witnesses: Option<&WitnessPolicy>,
) -> ReceiptReport {
    let mut r = ReceiptReport::default();
    check_into(body, proof, log_key, gate_key, operator_key, witnesses, &mut r);
    r
}

/// Which witnesses cosigned the proof's checkpoint, how old the newest
/// cosignature is, and whether the quorum is met.
fn witnessed(policy: &WitnessPolicy, cosigs: Vec<cairn_api::note::VerifiedSignature>, r: &mut ReceiptReport) {
    let newest = cosigs.iter().filter_map(|c| c.timestamp).max();
    let keys: Vec<VerifierKey> = cosigs.into_iter().map(|c| c.key).collect();
    let names = policy.names_of(&keys);
    let age = newest.map_or(String::new(), |t| {
        let now = cairn_host::clock::now_saturating().millis() / 1000;
        format!("; newest cosignature {}s old", now.saturating_sub(t))
    });
    let what = format!(
        "checkpoint witnessed by {} of {} ({}){age}",
        names.len(),
        policy.witnesses().len(),
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    if policy.quorum_met(&keys) {
        r.ok(format!("{what}: quorum met"));
    } else {
        r.fail(format!("{what}: the witness quorum is not met"));
    }
}

fn check_into(
    body: &[u8],
    proof: Option<Result<Vec<u8>, String>>,
    log_key: Option<&VerifierKey>,
    gate_key: Option<&VerifierKey>,
    operator_key: Option<&VerifierKey>,
    witnesses: Option<&WitnessPolicy>,
    r: &mut ReceiptReport,
) {
    let signed = match SignedReceipt::parse(body) {
        Ok(m) => m,
        Err(e) => return r.fail(format!("signed receipt: {e}")),
    };
    r.ok("receipt payload valid (v1, canonical CBOR), gate named by the signing key".into());
    let receipt = match gate_key {
        Some(k) => match signed.verify(k) {
            Ok(rc) => {
                r.ok(format!("signature valid under gate key {}", k.key_ref()));
                rc
            }
            Err(e) => {
                r.fail(format!("gate signature: {e}"));
                signed.unverified()
            }
        },
        None => {
            r.not_checked.push(format!(
                "gate signature by {}: no --gate-key given (an audit learns gate keys from the log)",
                signed.kid()
            ));
            signed.unverified()
        }
    };
    let p = receipt.parts();
    r.summary = Some(format!(
        "receipt {}: {} {} on {}:{} by {} at {} (gate {})",
        p.receipt_id,
        p.decision,
        p.request.action.name,
        p.request.resource.kind,
        p.request.resource.id,
        p.request.subject.id,
        p.decided_at,
        p.gate
    ));
    if let Some(bg) = &p.break_glass {
        match operator_key {
            Some(k) => match receipt.verify_break_glass(k) {
                Ok(()) => r.ok(format!("break-glass counter-signature valid under {}", k.key_ref())),
                Err(e) => r.fail(format!("break-glass: {e}")),
            },
            None => r.not_checked.push(format!(
                "break-glass counter-signature by {}: no --operator-key given",
                bg.operator
            )),
        }
    }
    match (proof, log_key) {
        (Some(bytes), Some(log)) => {
            let proof = match bytes.and_then(|b| TlogProof::parse(&b).map_err(|e| format!("tlog-proof: {e}"))) {
                Ok(p) => p,
                Err(e) => return r.fail(e),
            };
            let witness_keys = witnesses.map(WitnessPolicy::keys).unwrap_or_default();
            match proof.verify_body(body, log, &witness_keys) {
                Ok((_, cp, cosigs)) => {
                    r.ok(format!(
                        "included at index {} of {} (tree size {}), checkpoint signed by {}",
                        proof.index,
                        cp.origin,
                        cp.size,
                        log.key_ref()
                    ));
                    match witnesses {
                        Some(policy) => witnessed(policy, cosigs, r),
                        None => r
                            .not_checked
                            .push("witness cosignatures: no --trust file with witnesses given".into()),
                    }
                }
                Err(e) => r.fail(format!("tlog-proof: {e}")),
            }
        }
        _ => r
            .not_checked
            .push("inclusion in the log: no --proof and --log-key given".into()),
    }
    r.not_checked
        .push("that the gate key was registered and not revoked at that point of the log: needs `audit`".into());
}
