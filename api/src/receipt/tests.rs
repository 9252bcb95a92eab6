use super::*;
use crate::examples;
use crate::timestamp::Timestamp;

fn invalid_path(e: ReceiptError) -> String {
    match e {
        ReceiptError::Invalid { path, .. } => path,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn cbor_and_json_round_trip_for_many_shapes() {
    for n in 0..40 {
        let r = examples::receipt(n);
        let bytes = r.to_cbor();
        let back = Receipt::from_cbor(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.to_cbor(), bytes);
        let json = r.to_json();
        let from_json = Receipt::from_json(&json).unwrap();
        assert_eq!(from_json, r);
        assert_eq!(from_json.to_json(), json);
        // The typed view mapping and the serde view agree.
        assert_eq!(crate::view::decode(&bytes, &VIEW, MAX_RECEIPT_BYTES).unwrap(), json);
    }
}

/// What AuthZEN allows a receipt records as given: numbers with a fraction
/// (as decimal fractions), empty identifiers, empty keys and values.
#[test]
fn authzen_edge_values_are_recorded_losslessly() {
    let r = examples::authzen_edge_receipt();
    let p = r.parts().clone();
    let back = Receipt::from_cbor(&r.to_cbor()).unwrap();
    assert_eq!(back.parts(), &p);
    assert_eq!(back.to_cbor(), r.to_cbor());
    let ctx = back.parts().request.context.as_ref().unwrap();
    assert_eq!(ctx["one"].as_f64(), Some(1.0));
    assert!(ctx["one"].is_f64(), "1.0 stays a number with a fraction");
    assert_eq!(ctx["list"][0].as_f64(), Some(0.1));
    assert_eq!(ctx[""], serde_json::json!(""));
    assert_eq!(back.parts().request.subject.id, "");
    assert_eq!(crate::receipt::check_request(&p.request), Ok(()));
}

#[test]
fn receipts_cannot_be_built_invalid() {
    let base = examples::receipt_parts(1);
    let check = |f: &dyn Fn(&mut ReceiptParts)| {
        let mut p = base.clone();
        f(&mut p);
        invalid_path(Receipt::new(p).unwrap_err())
    };
    assert_eq!(check(&|p| p.v = 2), "v");
    assert_eq!(check(&|p| p.receipt_id = "not-a-uuid".into()), "receipt_id");
    // A UUIDv4 is not a UUIDv7.
    assert_eq!(
        check(&|p| p.receipt_id = "9b2f6a4e-8f4e-4c1b-9a3e-1c2d3e4f5a6b".into()),
        "receipt_id"
    );
    assert_eq!(check(&|p| p.receipt_id = p.receipt_id.to_uppercase()), "receipt_id");
    assert_eq!(check(&|p| p.gate = "has space".into()), "gate");
    assert_eq!(check(&|p| p.request.subject.id = "i".repeat(257)), "request.subject.id");
    assert_eq!(
        check(&|p| p.request.resource.kind = "a\u{0}b".into()),
        "request.resource.type"
    );
    // NFD text is refused: dCBOR would silently normalise it.
    assert_eq!(
        check(&|p| p.request.resource.id = "cafe\u{301}".into()),
        "request.resource.id"
    );
    assert_eq!(check(&|p| p.reason.code = "has space".into()), "reason.code");
    assert_eq!(check(&|p| p.idempotency_key = "a b".into()), "idempotency_key");
    assert_eq!(check(&|p| p.idempotency_key = "k".repeat(129)), "idempotency_key");
    assert_eq!(
        check(&|p| {
            p.nd_inputs.other.insert("clock".into(), 1.into());
        }),
        "nd_inputs.clock"
    );
    assert_eq!(
        check(&|p| {
            p.request.context.as_mut().unwrap().insert(
                "f".into(),
                serde_json::json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}),
            );
        }),
        "request.context.f.a.b.c.d.e.f.g"
    );
    assert_eq!(
        check(&|p| p.lineage = vec![p.lineage[0].clone(); MAX_LINEAGE_LINKS + 1]),
        "lineage"
    );
    assert_eq!(
        check(&|p| p.lineage[0].exp = Some(Timestamp::from_millis(0).unwrap())),
        "lineage[].exp"
    );
    assert_eq!(
        check(&|p| p.trace.as_mut().unwrap().trace_id = "0".repeat(32)),
        "trace.trace_id"
    );
}

#[test]
fn approval_rules() {
    // Receipt 0 is a PERMIT with an APPROVED required approval.
    let base = examples::receipt_parts(0);
    assert_eq!(base.decision, Decision::Permit);
    let check = |f: &dyn Fn(&mut Approval)| {
        let mut p = base.clone();
        f(p.approval.as_mut().unwrap());
        invalid_path(Receipt::new(p).unwrap_err())
    };
    assert_eq!(check(&|a| a.outcome = Some(ApprovalOutcome::Denied)), "decision");
    assert_eq!(
        check(&|a| {
            a.outcome = Some(ApprovalOutcome::TimedOut);
        }),
        "approval.responded_at"
    );
    assert_eq!(check(&|a| a.responded_at = None), "approval.responded_at");
    assert_eq!(check(&|a| a.approver = None), "approval");
    assert_eq!(
        check(&|a| a.expires_at = Timestamp::from_millis(0).unwrap()),
        "approval.expires_at"
    );
    // A DENY after TIMED_OUT is fine.
    let mut p = base.clone();
    p.decision = Decision::Deny;
    let a = p.approval.as_mut().unwrap();
    a.outcome = Some(ApprovalOutcome::TimedOut);
    a.responded_at = None;
    Receipt::new(p).unwrap();
}

#[test]
fn freeform_limits() {
    let base = examples::receipt_parts(1);
    let nested = |objects: usize| {
        let mut v = serde_json::json!(1);
        for _ in 0..objects {
            v = serde_json::json!({ "d": v });
        }
        let mut p = base.clone();
        p.request.context = v.as_object().cloned();
        Receipt::new(p)
    };
    assert!(nested(MAX_FREEFORM_DEPTH).is_ok());
    assert!(matches!(
        nested(MAX_FREEFORM_DEPTH + 1),
        Err(ReceiptError::Invalid { .. })
    ));
    let mut p = base.clone();
    let wide: serde_json::Map<_, _> = (0..=MAX_FREEFORM_ENTRIES)
        .map(|i| (format!("k{i}"), 1.into()))
        .collect();
    p.request.context = Some(wide);
    assert!(matches!(Receipt::new(p), Err(ReceiptError::Invalid { .. })));
}

#[test]
fn decoding_is_strict() {
    let r = examples::receipt(2);
    let bytes = r.to_cbor();
    let mut trailing = bytes.clone();
    trailing.push(0xf6);
    assert!(matches!(
        Receipt::from_cbor(&trailing),
        Err(ReceiptError::Encoding(crate::cbor::CborError::TrailingBytes(1)))
    ));
    // An unknown field.
    let mut c = crate::cbor::decode(&bytes).unwrap();
    if let crate::cbor::CBORCase::Map(m) = c.as_case() {
        let mut m = m.clone();
        m.insert("zzz", 1u64);
        c = crate::cbor::CBOR::from(m);
    }
    assert!(matches!(
        Receipt::from_cbor(&crate::cbor::encode(&c)),
        Err(ReceiptError::Schema(_))
    ));
    // A null optional field is not the canonical (absent) form.
    let mut json = r.to_json();
    json["break_glass"] = serde_json::Value::Null;
    let with_null = crate::view::encode(&json, &VIEW).unwrap();
    assert!(matches!(
        Receipt::from_cbor(&with_null),
        Err(ReceiptError::NonCanonical(_))
    ));
    // A byte string where text belongs has no view.
    let mut json = r.to_json();
    json["gate"] = serde_json::json!(5);
    let wrong = crate::view::encode(&json, &VIEW).unwrap();
    assert!(matches!(Receipt::from_cbor(&wrong), Err(ReceiptError::Schema(_))));
    let big = vec![0x40; MAX_RECEIPT_BYTES + 1];
    assert!(matches!(
        Receipt::from_cbor(&big),
        Err(ReceiptError::Encoding(crate::cbor::CborError::TooLarge { .. }))
    ));
}

#[test]
fn break_glass_is_counter_signed() {
    let r = examples::receipt(9);
    assert!(r.parts().break_glass.is_some());
    r.verify_break_glass(&examples::operator_key().verifier()).unwrap();
    assert!(matches!(
        r.verify_break_glass(&examples::gate_key().verifier()),
        Err(ReceiptError::BadBreakGlassSignature(_))
    ));
    // Moving the signature to another request breaks it.
    let mut p = r.clone().into_parts();
    p.request.resource.id = "other".into();
    let moved = Receipt::new(p).unwrap();
    assert!(matches!(
        moved.verify_break_glass(&examples::operator_key().verifier()),
        Err(ReceiptError::BadBreakGlassSignature(_))
    ));
    assert!(matches!(
        examples::receipt(1).verify_break_glass(&examples::operator_key().verifier()),
        Err(ReceiptError::NoBreakGlass)
    ));
}

#[test]
fn signed_receipts_bind_the_gate_name_to_the_signing_key() {
    let gate = examples::gate_key();
    let r = examples::receipt(5);
    let (signed, bytes) = SignedReceipt::sign(r.clone(), &gate).unwrap();
    assert_eq!(SignedReceipt::parse(&bytes).unwrap(), signed);
    assert_eq!(signed.verify(&gate.verifier()).unwrap(), &r);
    assert_eq!(signed.kid(), gate.verifier().key_ref());
    // Another key cannot sign a receipt naming this gate...
    let other =
        crate::keys::SignerKey::from_seed("gate.example/other", crate::keys::KeyType::Ed25519, &[9; 32]).unwrap();
    assert!(matches!(
        SignedReceipt::sign(r.clone(), &other),
        Err(ReceiptError::GateMismatch { .. })
    ));
    // ...and a receipt signed directly with COSE under another name is refused on parse.
    let forged = crate::cose::sign(r.as_cbor(), RECEIPT_CONTENT_TYPE, &other).unwrap();
    assert!(matches!(
        SignedReceipt::parse(&forged),
        Err(ReceiptError::GateMismatch { .. })
    ));
    // The wrong key.
    assert!(matches!(
        signed.verify(&other.verifier()),
        Err(ReceiptError::Cose(crate::cose::CoseError::KeyMismatch { .. }))
    ));
}
