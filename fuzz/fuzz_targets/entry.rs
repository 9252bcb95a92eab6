//! Log entries: what decodes re-encodes to the same bytes.
#![no_main]
use cairn_api::entry::{Entry, KeyStatement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::from_cbor(data) {
        assert_eq!(e.to_cbor(), data);
        let _ = e.receipt();
    }
    if let Ok(s) = KeyStatement::from_cbor(data) {
        assert_eq!(s.to_cbor(), data);
    }
});
