//! The receipt's `lineage` from the token the agent presented (MCP
//! authorization: `Authorization: Bearer <JWT>` on the streamable HTTP
//! transport), verified before anything of it is recorded.
//!
//! The gate knows the token issuers it trusts from a file
//! (`token_issuers`, JSON: `{"issuers": [{"iss": "...", "keys": [JWK,
//! ...]}]}`, the keys as the issuer's JWKS publishes them). A token is
//! read only when it is a JWS signed with EdDSA (Ed25519, `verify_strict`)
//! by a key of its `iss`, not expired (`exp`) and already valid (`nbf`).
//! Its chain becomes the lineage, root first, current actor last (RFC 8693
//! `act`): the token's subject, then each actor from the innermost `act`
//! out. Every link records the token's SHA-256, never the token.
//!
//! A call with no bearer token is decided with an empty lineage; a call
//! whose token is refused is not decided at all (the agent gets a tool
//! error), since a policy may depend on the lineage.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use cairn_api::merkle::{MerkleHasher as _, Sha256};
use cairn_api::receipt::{LineageLink, MAX_LINEAGE_LINKS, SubProfile};
use cairn_api::timestamp::Timestamp;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::authzen::{Decision, DecisionContext, ReasonField};

/// The largest issuers file read.
pub const MAX_ISSUERS_FILE: u64 = 1024 * 1024;
/// The longest token read.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_S: u64 = 60;

/// A token the gate will not read (the agent's, or its issuer's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS with a JSON header and claims.
    #[error("the bearer token is not a JWT: {0}")]
    Malformed(String),
    /// Signed with another algorithm than EdDSA, or with `crit`.
    #[error("the bearer token's algorithm {0:?} is not one the gate verifies (EdDSA)")]
    Algorithm(String),
    /// Its `iss` is not in the gate's issuers file.
    #[error("the bearer token's issuer {0:?} is not one the gate trusts")]
    UnknownIssuer(String),
    /// No key of its issuer verifies its signature.
    #[error("the bearer token's signature does not verify under its issuer's keys")]
    Signature,
    /// Past its `exp`.
    #[error("the bearer token expired")]
    Expired,
    /// Before its `nbf`.
    #[error("the bearer token is not valid yet")]
    NotYetValid,
}

impl TokenError {
    /// The call's answer: not allowed, and why.
    pub fn as_decision(&self) -> Decision {
        let field = |s: &str| -> ReasonField { [("en".to_owned(), s.to_owned())].into() };
        Decision {
            decision: false,
            context: Some(DecisionContext {
                id: "token_refused".into(),
                reason_user: Some(field(&format!("Action blocked: {self}"))),
                reason_admin: Some(field(&self.to_string())),
                ..DecisionContext::default()
            }),
        }
    }
}

/// The issuers file is unusable: the operator's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuersError {
    /// It could not be read or parsed.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// A key is not an Ed25519 JWK.
    #[error("{path}: issuer {iss:?}: {detail}")]
    Key {
        /// The file.
        path: String,
        /// The issuer.
        iss: String,
        /// Why.
        detail: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuersFile {
    issuers: Vec<IssuerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    iss: String,
    keys: Vec<Map<String, Value>>,
}

#[derive(Debug, Clone)]
struct IssuerKey {
    kid: Option<String>,
    key: VerifyingKey,
}

/// The token issuers the gate trusts, with their keys.
#[derive(Debug, Clone)]
pub struct TokenIssuers {
    issuers: Vec<(String, Vec<IssuerKey>)>,
}

fn jwk(k: &Map<String, Value>) -> Result<IssuerKey, String> {
    let s = |name: &str| k.get(name).and_then(Value::as_str);
    match (s("kty"), s("crv")) {
        (Some("OKP"), Some("Ed25519")) => {}
        (kty, crv) => {
            return Err(format!(
                "a key of type {kty:?} and curve {crv:?}: the gate verifies Ed25519 (OKP) keys only"
            ));
        }
    }
    let x = s("x").ok_or("an OKP key without x")?;
    let bytes: [u8; 32] = B64URL
        .decode(x)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("x is not 32 bytes of base64url")?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("x: {e}"))?;
    Ok(IssuerKey {
        kid: s("kid").map(str::to_owned),
        key,
    })
}

fn b64json(part: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = B64URL
        .decode(part)
        .map_err(|e| TokenError::Malformed(format!("{what}: {e}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TokenError::Malformed(format!("{what} is not a JSON object"))),
    }
}

fn string(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn seconds(m: &Map<String, Value>, k: &str) -> Result<Option<u64>, TokenError> {
    match m.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| TokenError::Malformed(format!("{k} is not a whole number of seconds"))),
    }
}

fn time(m: &Map<String, Value>, k: &str) -> Result<Option<Timestamp>, TokenError> {
    seconds(m, k)?
        .map(|s| Timestamp::from_millis(s.saturating_mul(1000)))
        .transpose()
        .map_err(|e| TokenError::Malformed(format!("{k}: {e}")))
}

fn profile(m: &Map<String, Value>, default: SubProfile) -> Result<SubProfile, TokenError> {
    match m.get("sub_profile").and_then(Value::as_str) {
        None => Ok(default),
        Some("human") => Ok(SubProfile::Human),
        Some("ai_agent") => Ok(SubProfile::AiAgent),
        Some("workload") => Ok(SubProfile::Workload),
        Some(other) => Err(TokenError::Malformed(format!("sub_profile {other:?}"))),
    }
}

impl TokenIssuers {
    /// Read the issuers file.
    pub fn load(path: &Path) -> Result<Self, IssuersError> {
        let read = |detail: String| IssuersError::Read {
            path: path.display().to_string(),
            detail,
        };
        let bytes = cairn_host::file::read_bounded(path, MAX_ISSUERS_FILE).map_err(|e| read(e.to_string()))?;
        let file: IssuersFile = serde_json::from_slice(&bytes).map_err(|e| read(e.to_string()))?;
        if file.issuers.is_empty() {
            return Err(read("no issuer".into()));
        }
        let mut issuers = Vec::new();
        for e in file.issuers {
            let keys = e
                .keys
                .iter()
                .map(jwk)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|detail| IssuersError::Key {
                    path: path.display().to_string(),
                    iss: e.iss.clone(),
                    detail,
                })?;
            issuers.push((e.iss, keys));
        }
        Ok(TokenIssuers { issuers })
    }

    /// The lineage of the call's `Authorization` header at `now` (seconds
    /// since the epoch): empty without a bearer token.
    pub fn lineage_at(&self, authorization: Option<&[u8]>, now: u64) -> Result<Vec<LineageLink>, TokenError> {
        let Some(token) = authorization
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return Ok(Vec::new());
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed(format!("over {MAX_TOKEN_BYTES} bytes")));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed("not three dot-separated parts".into()));
        };
        let header = b64json(h, "header")?;
        let alg = string(&header, "alg").unwrap_or_default();
        if alg != "EdDSA" || header.contains_key("crit") {
            return Err(TokenError::Algorithm(alg));
        }
        let claims = b64json(p, "claims")?;
        let iss = string(&claims, "iss").ok_or_else(|| TokenError::Malformed("no iss".into()))?;
        let keys = self
            .issuers
            .iter()
            .find(|(i, _)| *i == iss)
            .map(|(_, k)| k)
            .ok_or_else(|| TokenError::UnknownIssuer(iss.clone()))?;
        let sig: [u8; 64] = B64URL
            .decode(sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(TokenError::Signature)?;
        let sig = Signature::from_bytes(&sig);
        let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
        let kid = string(&header, "kid");
        let verified = keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid == kid)
            .any(|k| k.key.verify_strict(signed, &sig).is_ok());
        if !verified {
            return Err(TokenError::Signature);
        }
        if seconds(&claims, "exp")?.is_some_and(|exp| now > exp.saturating_add(LEEWAY_S)) {
            return Err(TokenError::Expired);
        }
        if seconds(&claims, "nbf")?.is_some_and(|nbf| now.saturating_add(LEEWAY_S) < nbf) {
            return Err(TokenError::NotYetValid);
        }
        links(&claims, &iss, Sha256::digest(&[token.as_bytes()]))
    }

    /// [`TokenIssuers::lineage_at`] now.
    pub fn lineage(&self, authorization: Option<&axum::http::HeaderValue>) -> Result<Vec<LineageLink>, TokenError> {
        let now = cairn_host::clock::now_saturating().millis() / 1000;
        self.lineage_at(authorization.map(axum::http::HeaderValue::as_bytes), now)
    }
}

/// The links of verified `claims`: the subject, then the actors from the
/// innermost `act` out.
fn links(
    claims: &Map<String, Value>,
    iss: &str,
    token_hash: cairn_api::merkle::Hash,
) -> Result<Vec<LineageLink>, TokenError> {
    let sub = string(claims, "sub").ok_or_else(|| TokenError::Malformed("no sub".into()))?;
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")),
        _ => None,
    };
    let mut actors = Vec::new();
    let mut act = claims.get("act");
    while let Some(a) = act {
        let a = a
            .as_object()
            .ok_or_else(|| TokenError::Malformed("act is not an object".into()))?;
        if actors.len() + 1 >= MAX_LINEAGE_LINKS {
            return Err(TokenError::Malformed(format!("a chain over {MAX_LINEAGE_LINKS} links")));
        }
        actors.push(LineageLink {
            iss: string(a, "iss").unwrap_or_else(|| iss.to_owned()),
            sub: string(a, "sub").ok_or_else(|| TokenError::Malformed("an act without sub".into()))?,
            sub_profile: profile(a, SubProfile::AiAgent)?,
            client_id: string(a, "client_id"),
            jti: None,
            iat: None,
            exp: None,
            aud: None,
            scope: None,
            token_hash,
        });
        act = a.get("act");
    }
    // The subject is a person acting through agents when there are actors,
    // else the agent itself, unless the token says.
    let root_default = if actors.is_empty() {
        SubProfile::AiAgent
    } else {
        SubProfile::Human
    };
    let mut out = vec![LineageLink {
        iss: iss.to_owned(),
        sub,
        sub_profile: profile(claims, root_default)?,
        client_id: string(claims, "client_id").or_else(|| string(claims, "azp")),
        jti: string(claims, "jti"),
        iat: time(claims, "iat")?,
        exp: time(claims, "exp")?,
        aud,
        scope: string(claims, "scope"),
        token_hash,
    }];
    out.extend(actors.into_iter().rev());
    Ok(out)
}

#[cfg(test)]
#[path = "lineage_tests.rs"]
mod tests;
