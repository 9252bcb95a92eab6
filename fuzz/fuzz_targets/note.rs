//! Signed notes and checkpoints: what parses re-serialises to the same text.
#![no_main]
use cairn_api::note::{Checkpoint, SignedNote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = SignedNote::parse(data) {
        assert_eq!(n.to_text().as_bytes(), data);
        if let Ok(c) = Checkpoint::parse(n.text()) {
            assert_eq!(c.to_text(), n.text());
        }
        let _ = n.verify(&[
            cairn_api::examples::log_key().verifier(),
            cairn_api::examples::witness_key().verifier(),
        ]);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse(text) {
            assert_eq!(c.to_text(), text);
        }
    }
});
