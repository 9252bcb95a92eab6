//! `cairn-gate serve` with mutual TLS: callers authenticate with a client
//! certificate signed by the configured CA instead of a bearer credential.
//! A caller with such a certificate is decided over HTTPS; one with no
//! certificate, or with one from another CA, never gets an HTTP answer.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use cairn_gate_server::config::Settings;
use common::TempDir;
use common::fixture::{bootstrap, ledger, settings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A certificate and its key, PEM.
struct Pem {
    cert: String,
    key: String,
}

fn leaf(issuer: &Issuer<'_, KeyPair>, name: &str, usage: ExtendedKeyUsagePurpose) -> Pem {
    let mut p = CertificateParams::new(vec![name.to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(p, key))
}

/// POST an evaluation over TLS, presenting `client` if given; the raw
/// answer (empty when the server ended the connection).
fn evaluate(addr: std::net::SocketAddr, ca_pem: &str, client: Option<&Pem>) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(p) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(p.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(p.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    let body = serde_json::json!({
        "subject": {"type": "agent", "id": "agent:devops-helper"},
        "action": {"name": "get_pods"},
        "resource": {"type": "eks", "id": "staging:web"}
    })
    .to_string();
    let head = format!(
        "POST /access/v1/evaluation HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if tls
        .write_all(head.as_bytes())
        .and_then(|()| tls.write_all(body.as_bytes()))
        .is_err()
    {
        return String::new();
    }
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_callers_with_a_certificate_from_the_ca_are_decided() {
    let dir = TempDir::new("mtls");
    let d = &dir.0;
    let (ca_pem, issuer) = ca("callers CA");
    let (_, other) = ca("someone else's CA");
    let server = leaf(&issuer, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let caller = leaf(&issuer, "agent-platform", ExtendedKeyUsagePurpose::ClientAuth);
    let stranger = leaf(&other, "agent-platform", ExtendedKeyUsagePurpose::ClientAuth);

    let l = ledger(&d.join("ledger.redb"), None);
    bootstrap(&l, &["devops-staging"]);
    let s = Settings {
        listen: Some("127.0.0.1:0".into()),
        callers: None,
        tls_cert: Some(write(d, "server.pem", &server.cert)),
        tls_key: Some(write(d, "server.key", &server.key)),
        client_ca: Some(write(d, "callers-ca.pem", &ca_pem)),
        ..settings(d, &l.url())
    };
    let cfg = s.resolve().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(cairn_gate_server::serve::serve(
        cfg,
        move |addr| {
            let _ = ready_tx.send(addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = ready_rx.await.unwrap();

    let answers = tokio::task::spawn_blocking(move || {
        (
            evaluate(addr, &ca_pem, Some(&caller)),
            evaluate(addr, &ca_pem, None),
            evaluate(addr, &ca_pem, Some(&stranger)),
        )
    })
    .await
    .unwrap();
    let (trusted, none, strange) = answers;
    assert!(trusted.starts_with("HTTP/1.1 200"), "{trusted}");
    assert!(trusted.contains("\"decision\":true"), "{trusted}");
    assert!(!none.contains("HTTP/1.1"), "no certificate: {none}");
    assert!(!strange.contains("HTTP/1.1"), "another CA's certificate: {strange}");

    let _ = stop_tx.send(());
    served.await.unwrap().unwrap();
    l.stop();
}

#[test]
fn mutual_tls_needs_a_certificate_of_the_gate_and_one_of_callers_or_client_ca() {
    let dir = TempDir::new("mtls-settings");
    let base = settings(&dir.0, "http://127.0.0.1:1");
    let s = Settings {
        client_ca: Some("ca.pem".into()),
        ..base.clone()
    };
    assert!(matches!(
        s.resolve(),
        Err(cairn_gate_server::config::ConfigError::Invalid { name: "client_ca", .. })
    ));
    let s = Settings {
        tls_cert: Some("cert.pem".into()),
        ..base.clone()
    };
    assert!(matches!(
        s.resolve(),
        Err(cairn_gate_server::config::ConfigError::Missing("tls_key"))
    ));
    let s = Settings { callers: None, ..base };
    let cfg = s.resolve().unwrap();
    let e = cairn_gate_server::serve::start(&cfg).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains("`callers` (or `client_ca`)"), "{e}");
}
