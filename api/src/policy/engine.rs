//! One interface for policy engines. An engine has a name and one pinned
//! version (a bundle names both, and a receipt's replay must run exactly
//! that code); it compiles a bundle into something that decides and that
//! policy authors can check. Adding an engine is one new file implementing
//! [`Engine`] and one line in [`super::registry::ENGINES`].

use super::bundle::{Bundle, EngineRef};
use super::check::Finding;
use super::{DecisionInput, PolicyDecision, PolicyError};

/// A policy engine cairn replays exactly.
pub trait Engine: Send + Sync + 'static {
    /// The name bundles give (`cairn-rules`, `cedar`).
    fn name(&self) -> &'static str;
    /// The one version implemented: a bundle naming any other is refused.
    fn version(&self) -> &'static str;
    /// The files a bundle for this engine holds, for messages and docs.
    fn files(&self) -> &'static [&'static str];
    /// Compile a bundle (already checked to name this engine and version).
    fn compile(&self, bundle: &Bundle) -> Result<Box<dyn Compiled>, PolicyError>;

    /// The engine reference a bundle for this engine carries.
    fn engine_ref(&self) -> EngineRef {
        EngineRef {
            name: self.name().to_owned(),
            version: self.version().to_owned(),
        }
    }
}

impl std::fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name(), self.version())
    }
}

/// A compiled bundle.
pub trait Compiled: Send + Sync + std::fmt::Debug {
    /// Decide. Total: evaluation errors give SILENCE, never a panic.
    fn decide(&self, input: &DecisionInput) -> PolicyDecision;
    /// Static findings for policy authors (`policy check`): rules that can
    /// never match, rules shadowed by others, names outside the vocabulary.
    fn check(&self) -> Vec<Finding>;
    /// What `policy check` should add about checks this engine makes
    /// elsewhere (Cedar validates against its schema when compiling).
    fn check_note(&self) -> Option<&'static str> {
        None
    }
}
