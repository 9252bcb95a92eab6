//! `cairn-rules/1` as an [`Engine`]: which file a bundle holds, parsed by
//! [`super::rules`], checked by [`super::check`].

use super::check::{Finding, check_rules};
use super::rules::{ENGINE_NAME, ENGINE_VERSION, RULES_JSON, RULES_TOML, RuleSet};
use super::{Bundle, Compiled, DecisionInput, Engine, PolicyDecision, PolicyError};

/// The `cairn-rules/1` engine.
#[derive(Debug, Clone, Copy)]
pub struct RulesEngine;

impl Engine for RulesEngine {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn version(&self) -> &'static str {
        ENGINE_VERSION
    }

    fn files(&self) -> &'static [&'static str] {
        &[RULES_TOML, RULES_JSON]
    }

    fn compile(&self, bundle: &Bundle) -> Result<Box<dyn Compiled>, PolicyError> {
        let (name, bytes) = match (bundle.file(RULES_TOML), bundle.file(RULES_JSON)) {
            (Some(b), None) => (RULES_TOML, b),
            (None, Some(b)) => (RULES_JSON, b),
            (Some(_), Some(_)) => {
                return Err(PolicyError::MissingFile(format!(
                    "both {RULES_TOML} and {RULES_JSON}: keep one"
                )));
            }
            (None, None) => {
                return Err(PolicyError::MissingFile(format!(
                    "{RULES_TOML} or {RULES_JSON} is missing"
                )));
            }
        };
        Ok(Box::new(RuleSet::parse(name, bytes)?))
    }
}

impl Compiled for RuleSet {
    fn decide(&self, input: &DecisionInput) -> PolicyDecision {
        RuleSet::decide(self, input)
    }

    fn check(&self) -> Vec<Finding> {
        check_rules(self)
    }
}
