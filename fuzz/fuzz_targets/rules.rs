//! cairn-rules files (TOML and JSON): parsing, compiling and deciding are
//! total, and deciding twice gives the same decision.
#![no_main]
use cairn_api::policy::DecisionInput;
use cairn_api::policy::rules::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = DecisionInput::from_receipt(&cairn_api::examples::receipt_parts(4));
    for name in ["rules.toml", "rules.json"] {
        if let Ok(r) = RuleSet::parse(name, data) {
            let a = r.decide(&input);
            assert_eq!(a, r.decide(&input));
        }
    }
});
