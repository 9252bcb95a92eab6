//! Receipt payloads: the fast decoder and the reference decoder give the
//! same verdict, receipt and error; a decoded receipt is its own canonical
//! encoding (building it again from its fields gives the same bytes) and its
//! JSON view round-trips.
#![no_main]
use cairn_api::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fast = Receipt::from_cbor(data);
    assert_eq!(fast, Receipt::from_cbor_reference(data));
    if let Ok(r) = fast {
        assert_eq!(r.as_cbor(), data);
        let rebuilt = Receipt::new(r.parts().clone()).unwrap();
        assert_eq!(rebuilt.as_cbor(), data);
        let back = Receipt::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
});
