//! Receipt payloads: a decoded receipt re-encodes to the same bytes and its
//! JSON view round-trips.
#![no_main]
use cairn_api::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Receipt::from_cbor(data) {
        assert_eq!(r.as_cbor(), data);
        let back = Receipt::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
});
