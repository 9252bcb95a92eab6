//! `cairn-ledger serve --config FILE` with a `[tls]` table: HTTPS over real
//! TCP with a self-signed certificate, a receipt acknowledged and proven
//! through it, and plain HTTP on the TLS port refused.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::VerifierKey;
use cairn_api::note::Checkpoint;
use cairn_api::proof::TlogProof;
use rustls::pki_types::{CertificateDer, ServerName};

const TOKEN: &str = "tls-admin-token";

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn client(addr: &str, roots: &rustls::RootCertStore) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap())
}

fn https(
    addr: &str,
    roots: &rustls::RootCertStore,
    method: &str,
    path: &str,
    body: &[u8],
    admin: bool,
) -> (u16, Vec<u8>) {
    let mut tls = client(addr, roots);
    let auth = if admin {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cose\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    let mut resp = Vec::new();
    // The server closes without close_notify after Connection: close on
    // some paths; what was read is complete either way.
    let _ = tls.read_to_end(&mut resp);
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = String::from_utf8_lossy(&resp[9..12]).parse().unwrap();
    (status, resp[split + 4..].to_vec())
}

#[test]
fn serves_https_from_a_config_file() {
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-tls-e2e-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(dir.0.join("tls")).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.0.join("tls/cert.pem"), cert.cert.pem()).unwrap();
    write_private(&dir.0.join("tls/key.pem"), &cert.signing_key.serialize_pem());
    write_private(&dir.0.join("admin.token"), TOKEN);
    std::fs::write(
        dir.0.join("authority.vkey"),
        examples::authority_key().verifier().to_string(),
    )
    .unwrap();
    // Relative paths: from the config file's directory.
    let config = dir.0.join("ledger.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\nlisten = \"127.0.0.1:0\"\norigin = \"tls.example/log\"\n\
         authorities = [\"@authority.vkey\"]\nadmin_token_file = \"admin.token\"\n\
         [sequencer]\nmax_batch = 64\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _server = Server(child);
    let log_key = VerifierKey::parse(lines.next().unwrap().unwrap().trim_start_matches("log key: ")).unwrap();
    assert_eq!(log_key.name(), "tls.example/log");
    let listen = lines.next().unwrap().unwrap();
    let addr = listen
        .strip_prefix("listening on https://")
        .unwrap_or_else(|| panic!("{listen}"))
        .to_owned();
    assert!(dir.0.join("data/log.key").exists(), "data_dir is relative to the file");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert.cert.der().to_vec())).unwrap();
    // A client that connects and never speaks does not hold up the others.
    let _silent = TcpStream::connect(&addr).unwrap();
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(https(&addr, &roots, "POST", "/v1/keys", &key, true).0, 201);
    let bundle = common::bundle("empty", b"");
    let b = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(https(&addr, &roots, "POST", "/v1/policies", &b, true).0, 201);
    let body = common::receipt(0, &examples::gate_key(), common::now_ms(), &bundle, "tls");
    let (status, resp) = https(&addr, &roots, "POST", "/v1/receipts", &body, false);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&resp));
    let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let proof = TlogProof::parse(ack["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
    proof.verify_body(&body, &log_key, &[]).unwrap();
    let (status, note) = https(&addr, &roots, "GET", "/v1/checkpoint", b"", false);
    assert_eq!(status, 200);
    let (cp, _, _) = Checkpoint::verify(&note, &log_key, &[]).unwrap();
    assert_eq!(cp.size, 3);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /v1/checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&got));

    // A client that does not trust the certificate is refused by its own TLS.
    let mut untrusting = client(&addr, &rustls::RootCertStore::empty());
    let e = untrusting.conn.complete_io(&mut untrusting.sock).unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}

#[test]
fn refuses_a_bad_config_with_a_usage_exit() {
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-tls-bad-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let run = |text: &str| {
        let config = dir.0.join("ledger.toml");
        std::fs::write(&config, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = run("data_dir = \"d\"\nauthorities = [\"k\"]\nlisten_addr = \"x\"\n");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_addr"));
    let out = run("authorities = [\"k\"]\n");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dir"));
    // A certificate that is not there: refused before anything is created.
    let out = run("data_dir = \"d\"\nauthorities = [\"k\"]\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("c.pem"));
    assert!(!dir.0.join("d").exists());
}

#[test]
fn environment_wins_over_the_file_and_flags_over_the_environment() {
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-env-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let config = dir.0.join("ledger.toml");
    std::fs::write(
        &config,
        "data_dir = \"from-file\"\nlisten = \"127.0.0.1:1\"\norigin = \"file.example/log\"\nauthorities = [\"nonsense\"]\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--origin", "flag.example/log"])
        .env("CAIRN_DATA_DIR", dir.0.join("from-env"))
        .env("CAIRN_LISTEN", "127.0.0.1:0")
        .env("CAIRN_ORIGIN", "env.example/log")
        .env(
            "CAIRN_AUTHORITY",
            format!(
                "{},{}",
                examples::authority_key().verifier(),
                examples::operator_key().verifier()
            ),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _server = Server(child);
    let log_key = VerifierKey::parse(lines.next().unwrap().unwrap().trim_start_matches("log key: ")).unwrap();
    assert_eq!(log_key.name(), "flag.example/log");
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("listening on http://127.0.0.1:")
    );
    assert!(dir.0.join("from-env/log.key").exists());
    assert!(!dir.0.join("from-file").exists());
}
