//! One receipt, its signature, its proof of inclusion, checked offline
//! (`cairn-verify receipt`).

use cairn_api::keys::VerifierKey;
use cairn_api::proof::TlogProof;
use cairn_api::receipt::SignedReceipt;

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
    let mut r = ReceiptReport::default();
    check_into(body, proof, log_key, gate_key, operator_key, &mut r);
    r
}

fn check_into(
    body: &[u8],
    proof: Option<Result<Vec<u8>, String>>,
    log_key: Option<&VerifierKey>,
    gate_key: Option<&VerifierKey>,
    operator_key: Option<&VerifierKey>,
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
            match proof.verify_body(body, log, &[]) {
                Ok((_, cp, _)) => r.ok(format!(
                    "included at index {} of {} (tree size {}), checkpoint signed by {}",
                    proof.index,
                    cp.origin,
                    cp.size,
                    log.key_ref()
                )),
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
