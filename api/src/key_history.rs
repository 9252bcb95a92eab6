//! The history of a key in the log (spec section 9.2): which key
//! statements may follow which. A key is registered once, for one role,
//! and revoked at most once; **revocation is permanent** (a revoked key
//! reference is never registered again: a key that had to be revoked gets
//! a new key, with a new key ID). The ledger refuses a statement that
//! breaks these rules (409 `key-history`) and an audit reports one; it
//! changes nothing either way.

use crate::entry::{KeyAction, KeyRole};

/// What the log says about a key so far: `None` when it never named it.
pub type KeyStanding = Option<(KeyRole, bool)>;

/// A key statement that does not follow the key's history: the signing
/// authority's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyHistoryError {
    /// A registration of a key that is registered already.
    #[error("the key is registered already (role {0}): a key is registered once")]
    AlreadyRegistered(KeyRole),
    /// A registration of a revoked key.
    #[error("the key was revoked: revocation is permanent, register a new key")]
    Revoked,
    /// A revocation of a key the log never registered.
    #[error("the key was never registered: there is nothing to revoke")]
    NeverRegistered,
    /// A revocation of a revoked key.
    #[error("the key is revoked already")]
    AlreadyRevoked,
    /// A revocation that names another role than the registration.
    #[error("the key is registered for the {registered} role, the revocation names {stated}")]
    RoleMismatch {
        /// The role it was registered for.
        registered: KeyRole,
        /// The role the revocation names.
        stated: KeyRole,
    },
}

/// Whether a statement (`action` for `role`) may follow `standing`.
pub fn check_transition(standing: KeyStanding, action: KeyAction, role: KeyRole) -> Result<(), KeyHistoryError> {
    match (action, standing) {
        (KeyAction::Register, None) => Ok(()),
        (KeyAction::Register, Some((r, true))) => Err(KeyHistoryError::AlreadyRegistered(r)),
        (KeyAction::Register, Some((_, false))) => Err(KeyHistoryError::Revoked),
        (KeyAction::Revoke, None) => Err(KeyHistoryError::NeverRegistered),
        (KeyAction::Revoke, Some((_, false))) => Err(KeyHistoryError::AlreadyRevoked),
        (KeyAction::Revoke, Some((r, true))) if r != role => Err(KeyHistoryError::RoleMismatch {
            registered: r,
            stated: role,
        }),
        (KeyAction::Revoke, Some((_, true))) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyAction::{Register, Revoke};
    use KeyRole::{Gate, Operator};

    #[test]
    fn a_key_is_registered_once_and_revoked_for_good() {
        assert_eq!(check_transition(None, Register, Gate), Ok(()));
        assert_eq!(check_transition(Some((Gate, true)), Revoke, Gate), Ok(()));
        assert_eq!(
            check_transition(Some((Gate, true)), Register, Gate),
            Err(KeyHistoryError::AlreadyRegistered(Gate))
        );
        assert_eq!(
            check_transition(Some((Gate, true)), Register, Operator),
            Err(KeyHistoryError::AlreadyRegistered(Gate))
        );
        assert_eq!(
            check_transition(Some((Gate, false)), Register, Gate),
            Err(KeyHistoryError::Revoked)
        );
        assert_eq!(
            check_transition(None, Revoke, Gate),
            Err(KeyHistoryError::NeverRegistered)
        );
        assert_eq!(
            check_transition(Some((Gate, false)), Revoke, Gate),
            Err(KeyHistoryError::AlreadyRevoked)
        );
        assert_eq!(
            check_transition(Some((Gate, true)), Revoke, Operator),
            Err(KeyHistoryError::RoleMismatch {
                registered: Gate,
                stated: Operator
            })
        );
    }
}
