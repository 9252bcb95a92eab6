//! Turning a decision into a signed receipt: the bundle's manifest stamped
//! in, the clock the decision read, the request, approval and lineage as
//! decided.

use cairn_api::keys::SignerKey;
use cairn_api::policy::{Bundle, DecisionInput, PolicyDecision};
use cairn_api::receipt::{
    BreakGlass, Initiator, Mode, RECEIPT_VERSION, Receipt, ReceiptError, ReceiptParts, SignedReceipt,
};

/// What a receipt records besides the decision itself.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    /// The receipt's id (UUIDv7 text).
    pub receipt_id: String,
    /// The idempotency key; a retry reuses it.
    pub idempotency_key: String,
    /// Enforce or shadow.
    pub mode: Mode,
    /// The gate's signing key (its name is the receipt's `gate`).
    pub gate: &'a SignerKey,
    /// Who started the delegation chain, if known.
    pub initiator: Option<Initiator>,
    /// An operator's break-glass counter-signature, if any.
    pub break_glass: Option<BreakGlass>,
}

impl<'a> Stamp<'a> {
    /// A stamp without initiator or break-glass.
    pub fn new(receipt_id: String, idempotency_key: String, mode: Mode, gate: &'a SignerKey) -> Self {
        Stamp {
            receipt_id,
            idempotency_key,
            mode,
            gate,
            initiator: None,
            break_glass: None,
        }
    }
}

/// The receipt for `decision` of `input` under `bundle`, and its signed
/// COSE_Sign1 bytes. `decided_at` is the clock the decision read
/// (`input.nd_inputs.clock`).
pub fn sign_decision(
    bundle: &Bundle,
    input: &DecisionInput,
    decision: PolicyDecision,
    stamp: Stamp<'_>,
) -> Result<(Receipt, Vec<u8>), ReceiptError> {
    let input = input.clone();
    let parts = ReceiptParts {
        v: RECEIPT_VERSION,
        receipt_id: stamp.receipt_id,
        gate: stamp.gate.name().into(),
        decided_at: input.nd_inputs.clock,
        mode: stamp.mode,
        decision: decision.decision,
        request: input.request,
        reason: decision.reason,
        determining_rules: decision.determining_rules,
        errors: decision.errors,
        policy: cairn_api::policy::policy_ref(bundle),
        idempotency_key: stamp.idempotency_key,
        nd_inputs: input.nd_inputs,
        initiator: stamp.initiator,
        approval: input.approval,
        lineage: input.lineage,
        break_glass: stamp.break_glass,
        trace: None,
    };
    let receipt = Receipt::new(parts)?;
    let (_, body) = SignedReceipt::sign(receipt.clone(), stamp.gate)?;
    Ok((receipt, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;
    use cairn_api::policy::{Policy, replay};

    #[test]
    fn a_signed_decision_replays_and_verifies() {
        let bundle = crate::policy_dir::pack_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/devops-staging/cairn-rules"),
        )
        .unwrap();
        let policy = Policy::compile(&bundle).unwrap();
        for n in 0..10 {
            let label = format!("example {n}");
            let mut input = cairn_api::policy::DecisionInput::from_receipt(&examples::receipt_parts(n));
            input.approval = None;
            let d = policy.decide(&input);
            let gate = examples::gate_key();
            let stamp = Stamp::new(
                examples::receipt_id(input.nd_inputs.clock.millis(), 1),
                format!("t-{n}"),
                Mode::Enforce,
                &gate,
            );
            let (receipt, body) = sign_decision(&bundle, &input, d.clone(), stamp).unwrap();
            assert_eq!(receipt.parts().decision, d.decision, "{label}");
            assert!(replay(&policy, receipt.parts()).matches, "{label}");
            let signed = SignedReceipt::parse(&body).unwrap();
            assert_eq!(signed.verify(&gate.verifier()).unwrap(), &receipt);
        }
    }
}
