//! Generated policies of a given size, for benchmarks: `n` rules for
//! cairn-rules and the same rules as Cedar policies, over a family of
//! surfaces, actions and targets, one in ten a DENY, one in five with a
//! condition.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cairn_api::policy::registry::{CAIRN_RULES, CEDAR};
use cairn_api::policy::{Bundle, BundleError};
use cairn_api::timestamp::Timestamp;

const SURFACES: [&str; 5] = ["eks", "github", "postgres", "s3", "gmail"];

fn epoch() -> Timestamp {
    Timestamp::from_millis(0).unwrap_or_else(|_| unreachable!("0 is a valid timestamp"))
}

/// `n` cairn-rules rules.
pub fn rules_bundle(n: usize) -> Result<Bundle, BundleError> {
    let mut toml = String::new();
    for i in 0..n {
        let effect = if i % 10 == 9 { "DENY" } else { "ALLOW" };
        let surface = SURFACES[i % SURFACES.len()];
        let _ = writeln!(
            toml,
            "[[rule]]\nid = \"r{i:05}\"\neffect = \"{effect}\"\nsubjects = [\"agent:team-{}-*\"]\nsurfaces = [\"{surface}\"]\nactions = [\"op{}_*\"]\nresources = [\"target-{}:*\"]",
            i % 17,
            i % 23,
            i % 31
        );
        if i % 5 == 4 {
            let _ = writeln!(
                toml,
                "conditions = [{{ op = \"lt\", path = \"/context/attempt\", value = 3 }}]"
            );
        }
        toml.push('\n');
    }
    let mut files = BTreeMap::new();
    files.insert("rules.toml".to_owned(), toml.into_bytes());
    Bundle::new(&format!("generated-{n}"), 1, CAIRN_RULES.engine_ref(), epoch(), files)
}

/// The same `n` rules as Cedar policies.
pub fn cedar_bundle(n: usize) -> Result<Bundle, BundleError> {
    let mut src = String::new();
    for i in 0..n {
        let effect = if i % 10 == 9 { "forbid" } else { "permit" };
        let surface = SURFACES[i % SURFACES.len()];
        let cond = if i % 5 == 4 {
            " && context.request_context.attempt < 3"
        } else {
            ""
        };
        let _ = writeln!(
            src,
            "@id(\"r{i:05}\")\n{effect} (principal, action, resource) when {{ principal.id like \"agent:team-{}-*\" && resource.surface == \"{surface}\" && context.action like \"op{}_*\" && resource.target like \"target-{}:*\"{cond} }};",
            i % 17,
            i % 23,
            i % 31
        );
    }
    let mut files = BTreeMap::new();
    files.insert("policies.cedar".to_owned(), src.into_bytes());
    Bundle::new(&format!("generated-{n}"), 1, CEDAR.engine_ref(), epoch(), files)
}

/// The k-th of the inputs the generated bundles are benchmarked with: the
/// first devops-staging request with its subject, surface, action and
/// target cycled through the names the generated rules use.
pub fn input(k: usize) -> cairn_api::policy::DecisionInput {
    let mut requests = crate::scenarios::requests("devops-staging");
    let mut i = requests.swap_remove(0).1;
    i.request.subject.id = format!("agent:team-{}-bot", k % 17);
    i.request.resource.kind = SURFACES[k % SURFACES.len()].into();
    i.request.action.name = format!("op{}_run", k % 23);
    i.request.resource.id = format!("target-{}:x", k % 31);
    i
}
