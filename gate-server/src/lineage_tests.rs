use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::json;

use super::*;

const NOW: u64 = 1_800_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn issuers() -> TokenIssuers {
    let dir = std::env::temp_dir().join(format!("cairn-issuers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("issuers.json");
    let x = B64URL.encode(key(1).verifying_key().to_bytes());
    let file = json!({"issuers": [{"iss": "https://auth.example", "keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "use": "sig"}
    ]}]});
    std::fs::write(&path, file.to_string()).unwrap();
    let t = TokenIssuers::load(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    t
}

fn token(header: &Value, claims: &Value, signer: &SigningKey) -> String {
    let h = B64URL.encode(header.to_string());
    let p = B64URL.encode(claims.to_string());
    let sig = signer.sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", B64URL.encode(sig.to_bytes()))
}

fn bearer(t: &str) -> Vec<u8> {
    format!("Bearer {t}").into_bytes()
}

fn claims() -> Value {
    json!({
        "iss": "https://auth.example", "sub": "alice@example.com", "aud": ["mcp.example", "files"],
        "client_id": "agent-app", "jti": "t-1", "iat": NOW - 10, "exp": NOW + 300, "scope": "files:write",
        "act": {"sub": "agent:files-helper", "act": {"sub": "agent:planner", "sub_profile": "workload"}}
    })
}

#[test]
fn a_verified_token_is_the_chain_root_first() {
    let t = token(
        &json!({"alg": "EdDSA", "kid": "k1", "typ": "at+jwt"}),
        &claims(),
        &key(1),
    );
    let links = issuers().lineage_at(Some(&bearer(&t)), NOW).unwrap();
    let subs: Vec<(&str, SubProfile)> = links.iter().map(|l| (l.sub.as_str(), l.sub_profile)).collect();
    assert_eq!(
        subs,
        [
            ("alice@example.com", SubProfile::Human),
            ("agent:planner", SubProfile::Workload),
            ("agent:files-helper", SubProfile::AiAgent),
        ]
    );
    let root = &links[0];
    assert_eq!(root.aud.as_deref(), Some("mcp.example files"));
    assert_eq!(root.client_id.as_deref(), Some("agent-app"));
    assert_eq!(root.exp.unwrap().millis(), (NOW + 300) * 1000);
    assert_eq!(root.token_hash, Sha256::digest(&[t.as_bytes()]));
    assert!(
        links
            .iter()
            .all(|l| l.token_hash == root.token_hash && l.iss == "https://auth.example")
    );
}

#[test]
fn without_a_bearer_token_the_lineage_is_empty() {
    let i = issuers();
    assert_eq!(i.lineage_at(None, NOW), Ok(Vec::new()));
    assert_eq!(i.lineage_at(Some(b"Basic YTpi"), NOW), Ok(Vec::new()));
}

/// What a refused token's error must be.
type Expect = fn(&TokenError) -> bool;

#[test]
fn refused_tokens_say_why() {
    let i = issuers();
    let h = json!({"alg": "EdDSA"});
    let cases: Vec<(String, Expect)> = vec![
        (token(&h, &claims(), &key(2)), |e| *e == TokenError::Signature),
        (token(&json!({"alg": "HS256"}), &claims(), &key(1)), |e| {
            matches!(e, TokenError::Algorithm(_))
        }),
        (
            token(&json!({"alg": "EdDSA", "crit": ["x"]}), &claims(), &key(1)),
            |e| matches!(e, TokenError::Algorithm(_)),
        ),
        (
            token(&h, &json!({"iss": "https://evil.example", "sub": "x"}), &key(1)),
            |e| matches!(e, TokenError::UnknownIssuer(_)),
        ),
        (
            token(
                &h,
                &json!({"iss": "https://auth.example", "sub": "x", "exp": NOW - 3600}),
                &key(1),
            ),
            |e| *e == TokenError::Expired,
        ),
        (
            token(
                &h,
                &json!({"iss": "https://auth.example", "sub": "x", "nbf": NOW + 3600}),
                &key(1),
            ),
            |e| *e == TokenError::NotYetValid,
        ),
        (token(&h, &json!({"iss": "https://auth.example"}), &key(1)), |e| {
            matches!(e, TokenError::Malformed(_))
        }),
        ("a.b".to_owned(), |e| matches!(e, TokenError::Malformed(_))),
        ("!!.!!.!!".to_owned(), |e| matches!(e, TokenError::Malformed(_))),
    ];
    for (t, ok) in cases {
        let e = i.lineage_at(Some(&bearer(&t)), NOW).unwrap_err();
        assert!(ok(&e), "{t}: {e:?}");
        let d = e.as_decision();
        assert!(!d.decision);
        assert_eq!(d.context.unwrap().id, "token_refused");
    }
    // A kid that names another key of the issuer is not tried against this one.
    let t = token(&json!({"alg": "EdDSA", "kid": "k2"}), &claims(), &key(1));
    assert_eq!(i.lineage_at(Some(&bearer(&t)), NOW), Err(TokenError::Signature));
}

#[test]
fn an_issuer_with_a_key_the_gate_cannot_verify_is_refused_at_load() {
    let dir = std::env::temp_dir().join(format!("cairn-issuers-rsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("issuers.json");
    let file = json!({"issuers": [{"iss": "https://idp.example", "keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}]});
    std::fs::write(&path, file.to_string()).unwrap();
    assert!(matches!(TokenIssuers::load(&path), Err(IssuersError::Key { .. })));
    std::fs::write(&path, b"{\"issuers\": []}").unwrap();
    assert!(matches!(TokenIssuers::load(&path), Err(IssuersError::Read { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}
