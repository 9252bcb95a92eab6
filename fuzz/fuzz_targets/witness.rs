//! The C2SP tlog-witness bodies (spec section 6.1): an `add-checkpoint`
//! request that parses is written back byte for byte; the 409 size body
//! and the cosignature lines of a 200 never panic, and a size round-trips.
#![no_main]
use cairn_api::witness::AddCheckpoint;
use cairn_api::witness::protocol::{parse_cosignatures, parse_size_body, size_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpoint::parse(data) {
        assert_eq!(req.to_bytes(), data);
    }
    if let Ok(size) = parse_size_body(data) {
        assert_eq!(size_body(size).as_bytes(), data);
    }
    if let Ok(sigs) = parse_cosignatures(data) {
        let text: String = sigs.iter().map(|s| s.line()).collect();
        assert_eq!(text.as_bytes(), data);
    }
});
