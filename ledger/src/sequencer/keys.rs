//! The key registry: what the log says about each key (registered or
//! revoked, and for which role), loaded from the store's key events at
//! start and updated as key statements are committed. A statement takes
//! effect from the next entry on (docs/spec.md 9.2).

use std::collections::HashMap;
use std::sync::RwLock;

use cairn_api::entry::KeyRole;
use cairn_api::keys::VerifierKey;

use super::SubmitError;
use crate::store::KeyEvent;

/// What the log says about a key.
#[derive(Debug, Clone)]
struct KeyState {
    key: VerifierKey,
    role: KeyRole,
    registered: bool,
}

/// Every key the log has registered or revoked, by key reference.
#[derive(Debug, Default)]
pub struct KeyRegistry {
    keys: RwLock<HashMap<String, KeyState>>,
}

impl KeyRegistry {
    /// The registry after `events`, in log order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a KeyEvent>) -> Self {
        let r = KeyRegistry::default();
        for e in events {
            r.apply(e);
        }
        r
    }

    /// Replace every key's standing by the one after `events`, in log
    /// order (an instance that takes over writing reads the history again).
    pub fn reset<'a>(&self, events: impl IntoIterator<Item = &'a KeyEvent>) {
        let fresh = KeyRegistry::from_events(events);
        let fresh = fresh
            .keys
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
    }

    /// Apply one committed key event.
    pub fn apply(&self, e: &KeyEvent) {
        let mut keys = self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.insert(
            e.key_ref(),
            KeyState {
                key: e.key.clone(),
                role: e.role,
                registered: e.registered,
            },
        );
    }

    /// The verifier key of a registered, unrevoked gate key; the precise
    /// refusal otherwise.
    pub fn gate_key(&self, key_ref: &str) -> Result<VerifierKey, SubmitError> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let k = keys
            .get(key_ref)
            .ok_or_else(|| SubmitError::UnknownKey(key_ref.to_owned()))?;
        if !k.registered {
            return Err(SubmitError::RevokedKey(key_ref.to_owned()));
        }
        if k.role != KeyRole::Gate {
            return Err(SubmitError::WrongRole {
                key: key_ref.to_owned(),
                role: k.role,
            });
        }
        Ok(k.key.clone())
    }

    /// The verifier key of a gate key, registered or revoked: what checks
    /// the signature of a receipt, including a retry of one logged before
    /// the key was revoked. Whether it may sign new receipts is
    /// [`KeyRegistry::gate_key`].
    pub fn signing_key(&self, key_ref: &str) -> Result<VerifierKey, SubmitError> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match keys.get(key_ref) {
            None => Err(SubmitError::UnknownKey(key_ref.to_owned())),
            Some(k) if k.role != KeyRole::Gate => Err(SubmitError::WrongRole {
                key: key_ref.to_owned(),
                role: k.role,
            }),
            Some(k) => Ok(k.key.clone()),
        }
    }

    /// The key of a registered, unrevoked operator key (`None` otherwise):
    /// who may counter-sign a break-glass override now.
    pub fn operator_key(&self, key_ref: &str) -> Option<VerifierKey> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(key_ref)
            .filter(|k| k.registered && k.role == KeyRole::Operator)
            .map(|k| k.key.clone())
    }

    /// Whether `key_ref` may sign receipts now.
    pub fn is_gate(&self, key_ref: &str) -> bool {
        self.gate_key(key_ref).is_ok()
    }

    /// What the log says about the key so far (its role and whether it is
    /// registered; `None`: never named).
    pub fn standing(&self, key_ref: &str) -> cairn_api::key_history::KeyStanding {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(key_ref).map(|k| (k.role, k.registered))
    }

    /// Whether the key is registered (`Some(false)`: revoked; `None`: unknown).
    pub fn registered(&self, key_ref: &str) -> Option<bool> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(key_ref).map(|k| k.registered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;

    #[test]
    fn the_last_event_of_a_key_counts() {
        let gate = examples::gate_key().verifier();
        let op = examples::operator_key().verifier();
        let ev = |key: &VerifierKey, role, registered| KeyEvent {
            key: key.clone(),
            role,
            registered,
        };
        let r = KeyRegistry::from_events(&[ev(&gate, KeyRole::Gate, true), ev(&op, KeyRole::Operator, true)]);
        assert_eq!(r.gate_key(&gate.key_ref()).unwrap(), gate);
        assert!(matches!(
            r.gate_key(&op.key_ref()),
            Err(SubmitError::WrongRole {
                role: KeyRole::Operator,
                ..
            })
        ));
        assert!(matches!(r.gate_key("nobody+00000000"), Err(SubmitError::UnknownKey(_))));
        r.apply(&ev(&gate, KeyRole::Gate, false));
        assert!(matches!(r.gate_key(&gate.key_ref()), Err(SubmitError::RevokedKey(_))));
        assert_eq!(r.registered(&gate.key_ref()), Some(false));
    }
}
