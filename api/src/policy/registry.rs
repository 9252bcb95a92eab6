//! The engines cairn implements: the one list. No engine name or version
//! is written anywhere else; a bundle whose engine is not here, at exactly
//! that version, does not compile.

use super::engine::Engine;

/// `cairn-rules/1`, the native engine ([`super::rules`]).
pub static CAIRN_RULES: &dyn Engine = &super::rules_engine::RulesEngine;
/// Cedar, the cedar-policy crate pinned ([`super::cedar`]).
pub static CEDAR: &dyn Engine = &super::cedar::CedarEngine;

/// Every engine, in the order messages and directory layouts list them.
pub static ENGINES: &[&dyn Engine] = &[CAIRN_RULES, CEDAR];

/// The engine a bundle names, if cairn implements it at that version.
pub fn engine(name: &str, version: &str) -> Option<&'static dyn Engine> {
    ENGINES
        .iter()
        .copied()
        .find(|e| e.name() == name && e.version() == version)
}

/// `cairn-rules 1, cedar 4.14.1`: the engines, for messages.
pub fn supported() -> String {
    ENGINES
        .iter()
        .map(|e| format!("{} {}", e.name(), e.version()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_is_found_by_its_name_and_version_only() {
        for e in ENGINES {
            assert!(std::ptr::addr_eq(engine(e.name(), e.version()).unwrap(), *e));
            assert!(engine(e.name(), &format!("{}.0", e.version())).is_none());
        }
        let names: std::collections::HashSet<_> = ENGINES.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), ENGINES.len());
        assert!(supported().contains(CEDAR.version()));
    }
}
