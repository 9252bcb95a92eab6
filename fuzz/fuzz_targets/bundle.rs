//! Policy bundles: what decodes re-encodes to the same bytes; compiling and
//! deciding on it are total.
#![no_main]
use cairn_api::policy::{Bundle, DecisionInput, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bundle::from_bytes(data) {
        assert_eq!(b.as_bytes(), data);
        if let Ok(p) = Policy::compile(&b) {
            let input = DecisionInput::from_receipt(&cairn_api::examples::receipt_parts(4));
            let _ = p.decide(&input);
        }
    }
});
