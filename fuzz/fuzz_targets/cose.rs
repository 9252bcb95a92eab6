//! COSE_Sign1: the field-by-field parser and the reference parser give the
//! same verdict, message and error; a parsed message re-encodes to the same
//! bytes.
#![no_main]
use cairn_api::cose::Sign1;
use cairn_api::receipt::RECEIPT_CONTENT_TYPE;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Sign1::parse(data, RECEIPT_CONTENT_TYPE);
    assert_eq!(parsed, Sign1::parse_reference(data, RECEIPT_CONTENT_TYPE));
    if let Ok(m) = parsed {
        assert_eq!(m.to_bytes(), data);
        // Verification is total too.
        let _ = m.verify(&cairn_api::examples::gate_key().verifier());
    }
});
