//! tlog-proof files: what parses re-serialises to the same text, and
//! verification is total.
#![no_main]
use cairn_api::proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_text().as_bytes(), data);
        let _ = p.verify_body(b"", &cairn_api::examples::log_key().verifier(), &[]);
    }
});
