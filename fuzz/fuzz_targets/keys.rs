//! Verifier-key strings: what parses formats back to the same string.
#![no_main]
use cairn_api::keys::{SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = VerifierKey::parse(text) {
            assert_eq!(k.to_string(), text.trim_end_matches('\n'));
        }
        if let Ok(k) = SignerKey::parse(text) {
            assert_eq!(k.to_private_string(), text.trim_end_matches('\n'));
        }
    }
});
