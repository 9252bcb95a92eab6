//! Generic deterministic CBOR: whatever decodes re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cairn_api::cbor::decode(data) {
        assert_eq!(cairn_api::cbor::encode(&v), data);
    }
});
