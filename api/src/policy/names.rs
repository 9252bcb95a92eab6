//! A receipt names its policy twice: by the bundle hash, and by the
//! bundle's id, revision and engine. Both must say the same thing: a
//! receipt that claims `cedar` for a `cairn-rules` bundle, or an id or
//! revision that is not the bundle's, is refused by the ledger and reported
//! by the verifier (spec section 8.1). The fields are compared in this
//! order, and the first that differs is the error.

use crate::policy::{Bundle, Manifest};
use crate::receipt::PolicyRef;

/// The receipt's policy fields are not those of the bundle its hash names:
/// the signing gate's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyMismatch {
    /// `policy.bundle_id` differs.
    #[error("the receipt says bundle_id {claimed:?}, the bundle it names is {actual:?}")]
    BundleId {
        /// What the receipt says.
        claimed: String,
        /// What the bundle says.
        actual: String,
    },
    /// `policy.revision` differs.
    #[error("the receipt says revision {claimed}, the bundle it names is revision {actual}")]
    Revision {
        /// What the receipt says.
        claimed: u64,
        /// What the bundle says.
        actual: u64,
    },
    /// `policy.engine` (name or version) differs.
    #[error("the receipt says engine {claimed}, the bundle it names is for {actual}")]
    Engine {
        /// What the receipt says (`name version`).
        claimed: String,
        /// What the bundle says.
        actual: String,
    },
}

/// The `policy` of a receipt decided under `bundle`: its hash, id,
/// revision and engine.
pub fn policy_ref(bundle: &Bundle) -> PolicyRef {
    let m = bundle.manifest();
    PolicyRef {
        bundle_hash: bundle.hash(),
        bundle_id: m.bundle_id.clone(),
        revision: m.revision,
        engine: crate::receipt::Engine {
            name: m.engine.name.clone(),
            version: m.engine.version.clone(),
        },
    }
}

/// Check a receipt's `policy` against the manifest of the bundle whose
/// hash it names.
pub fn check_policy_ref(policy: &PolicyRef, manifest: &Manifest) -> Result<(), PolicyMismatch> {
    if policy.bundle_id != manifest.bundle_id {
        return Err(PolicyMismatch::BundleId {
            claimed: policy.bundle_id.clone(),
            actual: manifest.bundle_id.clone(),
        });
    }
    if policy.revision != manifest.revision {
        return Err(PolicyMismatch::Revision {
            claimed: policy.revision,
            actual: manifest.revision,
        });
    }
    if policy.engine.name != manifest.engine.name || policy.engine.version != manifest.engine.version {
        return Err(PolicyMismatch::Engine {
            claimed: format!("{} {}", policy.engine.name, policy.engine.version),
            actual: format!("{} {}", manifest.engine.name, manifest.engine.version),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;

    #[test]
    fn each_field_must_be_the_bundle_s() {
        let files = [(
            "rules.toml".to_owned(),
            b"[[rule]]\nid = \"a\"\neffect = \"DENY\"\n".to_vec(),
        )]
        .into();
        let at = crate::timestamp::Timestamp::EPOCH;
        let engine = crate::policy::registry::CAIRN_RULES.engine_ref();
        let bundle = crate::policy::Bundle::new("ops", 3, engine, at, files).unwrap();
        let m = bundle.manifest();
        let p = policy_ref(&bundle);
        assert_ne!(p, examples::receipt_parts(0).policy);
        assert_eq!(check_policy_ref(&p, m), Ok(()));
        let mut q = p.clone();
        q.bundle_id = "made-up".into();
        q.revision += 1;
        assert!(
            matches!(check_policy_ref(&q, m), Err(PolicyMismatch::BundleId { .. })),
            "bundle_id first"
        );
        let mut q = p.clone();
        q.revision += 1;
        assert!(matches!(check_policy_ref(&q, m), Err(PolicyMismatch::Revision { .. })));
        let mut q = p.clone();
        q.engine.name = if m.engine.name == "cedar" {
            "cairn-rules"
        } else {
            "cedar"
        }
        .into();
        assert!(matches!(check_policy_ref(&q, m), Err(PolicyMismatch::Engine { .. })));
        let mut q = p;
        q.engine.version.push_str(".1");
        assert!(matches!(check_policy_ref(&q, m), Err(PolicyMismatch::Engine { .. })));
    }
}
