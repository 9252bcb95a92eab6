//! RFC 9457 problem details, and the one list of problem types the API
//! answers with. `docs/spec.md` section 20 and `schemas/openapi.yaml` list
//! the same types; a test checks that they agree with [`ProblemType::ALL`].

use serde::{Deserialize, Serialize};

use crate::cose::CoseError;
use crate::receipt::ReceiptError;

/// Base of the problem `type` URIs: `type` = base + slug.
pub const PROBLEM_BASE: &str = "https://cairn.dev/problems/";

macro_rules! problem_types {
    ($($variant:ident = $slug:literal, $status:literal, $title:literal, $fault:ident;)*) => {
        /// A problem type: its slug, HTTP status, title and whose fault it is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemType {
            $(
                #[doc = $title]
                $variant,
            )*
        }

        impl ProblemType {
            /// Every problem type, in the order of the spec's table.
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant),*];

            /// The slug (the last segment of the `type` URI).
            pub fn slug(self) -> &'static str {
                match self { $(ProblemType::$variant => $slug,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> u16 {
                match self { $(ProblemType::$variant => $status,)* }
            }

            /// The short title, the same for every problem of the type.
            pub fn title(self) -> &'static str {
                match self { $(ProblemType::$variant => $title,)* }
            }

            /// Whose fault it is.
            pub fn fault(self) -> Fault {
                match self { $(ProblemType::$variant => Fault::$fault,)* }
            }
        }
    };
}

/// Whose fault a problem is, and so whether retrying the same request can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Fault {
    /// The request is wrong: the same request will fail again.
    Client,
    /// The server could not do it now: retrying later (idempotently) can help.
    Server,
}

problem_types! {
    BadParameter = "bad-parameter", 400, "A query or path parameter is malformed or out of range", Client;
    BadBody = "bad-body", 400, "The request body could not be read", Client;
    BadBatch = "bad-batch", 400, "The batch is not a CBOR array of 1 to the limit of byte strings", Client;
    BadCose = "bad-cose", 400, "The body is not a valid COSE_Sign1 of cairn's profile", Client;
    BadSignature = "bad-signature", 400, "The signature does not verify under the named key", Client;
    NonCanonicalCbor = "non-canonical-cbor", 400, "The payload is not deterministic CBOR", Client;
    BadReceipt = "bad-receipt", 400, "The receipt is malformed", Client;
    BadEntry = "bad-entry", 400, "The entry body is malformed", Client;
    Unauthorized = "unauthorized", 401, "The admin route needs the admin bearer credential", Client;
    NotAuthority = "not-authority", 403, "The statement is not signed by a configured authority key", Client;
    BadAuthoritySignature = "bad-authority-signature", 403, "The authority's signature does not verify", Client;
    UnknownKey = "unknown-key", 403, "The gate key is not registered in the log", Client;
    RevokedKey = "revoked-key", 403, "The gate key is revoked", Client;
    WrongKeyRole = "wrong-key-role", 403, "The key is registered for another role", Client;
    GateMismatch = "gate-mismatch", 403, "The receipt's gate is not the signing key's name", Client;
    BadBreakGlass = "bad-break-glass", 403, "The break-glass counter-signature is not by a registered operator key, or does not verify", Client;
    NotFound = "not-found", 404, "No such resource", Client;
    MethodNotAllowed = "method-not-allowed", 405, "The route does not take this method", Client;
    BodyDeadline = "body-deadline", 408, "The request body did not arrive in time", Client;
    KeyHistory = "key-history", 409, "The key statement contradicts the key's history in the log", Client;
    PolicyNotArchived = "policy-not-archived", 409, "The receipt names a policy bundle the log does not archive", Client;
    BodyTooLarge = "body-too-large", 413, "The request body is over the limit", Client;
    UnsupportedMediaType = "unsupported-media-type", 415, "The content type is not the one the route takes", Client;
    InvalidReceipt = "invalid-receipt", 422, "The receipt breaks a rule of the receipt format", Client;
    PolicyMismatch = "policy-mismatch", 422, "The receipt's bundle_id, revision or engine is not that of the bundle it names", Client;
    BadPolicyBundle = "bad-policy-bundle", 422, "The policy bundle is malformed or does not compile", Client;
    ClockSkew = "clock-skew", 422, "The receipt's decided_at is ahead of the ledger's clock by more than the skew allowed", Client;
    TooLate = "too-late", 422, "The receipt's decided_at is older than the lateness the ledger accepts", Client;
    RateLimited = "rate-limited", 429, "The gate is over its rate", Client;
    Internal = "internal", 500, "The ledger failed to sign or encode its answer", Server;
    Busy = "busy", 503, "The ledger's queue is full", Server;
    ShuttingDown = "shutting-down", 503, "The ledger is shutting down", Server;
    NotLeader = "not-leader", 503, "This ledger instance does not hold the sequencer lease: another instance of the log writes", Server;
    NotDurable = "not-durable", 503, "Storage failed: nothing was acknowledged", Server;
    StorageUnavailable = "storage-unavailable", 503, "Storage could not be read", Server;
    DamagedEntry = "damaged-entry", 503, "A stored entry does not match its leaf hash: the ledger stopped writing until an operator acts", Server;
}

impl ProblemType {
    /// Whether the same bytes may be accepted later without anyone changing
    /// them: a server problem, or a client problem that time or an operator
    /// cures (a gate clock ahead of the ledger's, a gate key or a policy
    /// bundle not registered yet, a rate, a slow body). A gate's spool keeps
    /// such a receipt for the next delivery and sets aside only the rest
    /// (docs/spec.md 20.1).
    pub fn may_pass_later(self) -> bool {
        self.fault() == Fault::Server
            || matches!(
                self,
                ProblemType::ClockSkew
                    | ProblemType::UnknownKey
                    | ProblemType::PolicyNotArchived
                    | ProblemType::RateLimited
                    | ProblemType::BodyDeadline
            )
    }

    /// The full `type` URI.
    pub fn uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug())
    }

    /// The type whose URI is `uri`.
    pub fn from_uri(uri: &str) -> Option<ProblemType> {
        let slug = uri.strip_prefix(PROBLEM_BASE)?;
        Self::ALL.iter().copied().find(|t| t.slug() == slug)
    }
}

impl std::fmt::Display for ProblemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The type URI ([`PROBLEM_BASE`] + slug).
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's title.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What exactly was wrong with this request.
    pub detail: String,
}

impl Problem {
    /// A problem of type `t`.
    pub fn new(t: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            kind: t.uri(),
            title: t.title().to_owned(),
            status: t.status(),
            detail: detail.into(),
        }
    }

    /// Its type, when it is one of cairn's.
    pub fn problem_type(&self) -> Option<ProblemType> {
        ProblemType::from_uri(&self.kind)
    }
}

impl CoseError {
    /// The problem a submission failing with this error answers.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            CoseError::BadSignature(_) | CoseError::KeyMismatch { .. } => ProblemType::BadSignature,
            CoseError::Encoding(_)
            | CoseError::Malformed(_)
            | CoseError::NonCanonical(_)
            | CoseError::WrongAlgorithm(_)
            | CoseError::BadKid
            | CoseError::WrongContentType { .. }
            | CoseError::DetachedPayload
            | CoseError::BadSignatureLength(_)
            | CoseError::WrongKeyType(_) => ProblemType::BadCose,
        }
    }
}

impl ReceiptError {
    /// The problem a submission failing with this error answers.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ReceiptError::Encoding(_) | ReceiptError::View(_) | ReceiptError::NonCanonical(_) => {
                ProblemType::NonCanonicalCbor
            }
            ReceiptError::Schema(_) | ReceiptError::Invalid { .. } => ProblemType::InvalidReceipt,
            ReceiptError::GateMismatch { .. } => ProblemType::GateMismatch,
            ReceiptError::Cose(c) => c.problem_type(),
            ReceiptError::BadBreakGlassSignature(_) | ReceiptError::UnregisteredOperator(_) => {
                ProblemType::BadBreakGlass
            }
            ReceiptError::NoBreakGlass => ProblemType::BadReceipt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_uris_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for t in ProblemType::ALL {
            assert!(seen.insert(t.slug()), "{t} twice");
            assert_eq!(ProblemType::from_uri(&t.uri()), Some(*t));
            assert!((400..600).contains(&t.status()));
            assert_eq!(t.fault() == Fault::Server, t.status() >= 500, "{t}");
        }
        let p = Problem::new(ProblemType::ClockSkew, "late");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["type"], "https://cairn.dev/problems/clock-skew");
        assert_eq!(
            serde_json::from_value::<Problem>(json).unwrap().problem_type(),
            Some(ProblemType::ClockSkew)
        );
    }
}
