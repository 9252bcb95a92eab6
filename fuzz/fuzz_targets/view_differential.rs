//! The JSON-view codec agrees with dcbor: what it accepts dcbor accepts and
//! it re-encodes identically; what dcbor accepts it never calls an encoding
//! error.
#![no_main]
use cairn_api::receipt::{MAX_RECEIPT_BYTES, VIEW};
use cairn_api::view::{ViewError, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = decode(data, &VIEW, MAX_RECEIPT_BYTES);
    let theirs = cairn_api::cbor::decode(data);
    match (&ours, &theirs) {
        (Ok(j), Ok(_)) => assert_eq!(encode(j, &VIEW).unwrap(), data),
        (Ok(_), Err(e)) => panic!("view accepted what dcbor refused: {e:?}"),
        (Err(ViewError::Encoding(e)), Ok(_)) => panic!("view called dcbor-valid input malformed: {e:?}"),
        _ => {}
    }
});
