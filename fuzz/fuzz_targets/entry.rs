//! Log entries: the field-by-field decoder and the reference decoder give
//! the same verdict, entry and error; what decodes re-encodes to the same
//! bytes.
#![no_main]
use cairn_api::entry::{Entry, KeyStatement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = Entry::from_cbor(data);
    assert_eq!(decoded, Entry::from_cbor_reference(data));
    if let Ok(e) = decoded {
        assert_eq!(e.to_cbor(), data);
        let _ = e.receipt();
    }
    if let Ok(s) = KeyStatement::from_cbor(data) {
        assert_eq!(s.to_cbor(), data);
    }
});
