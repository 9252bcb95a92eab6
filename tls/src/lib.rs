//! TLS for cairn's servers, the ledger's and the gate's HTTP APIs (rustls,
//! TLS 1.2 and 1.3, ring).
//!
//! [`server_config`] loads a PEM certificate chain and private key, and
//! optionally the CA certificates whose client certificates are required
//! (mutual TLS: a client without one signed by them never gets past the
//! handshake);
//! [`TlsListener`] is an [`axum::serve::Listener`] that accepts TCP
//! connections and completes each handshake in a task of its own (bounded
//! in number and in time), so a slow or silent client never holds up the
//! accept loop, and graceful shutdown works as it does over plain TCP.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Largest certificate chain or key file read, in bytes.
pub const MAX_PEM_FILE: u64 = 1 << 20;
/// The longest a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most handshakes in progress at once; further connections wait in the
/// kernel's accept queue.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// The TLS certificate or key could not be loaded: the operator's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is larger than [`MAX_PEM_FILE`].
    #[error("{0}: larger than {MAX_PEM_FILE} bytes")]
    TooLarge(PathBuf),
    /// The certificate file holds no certificate, or one that is not PEM.
    #[error("{path}: no PEM certificate ({detail})")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The key file holds no private key rustls can use.
    #[error("{path}: no usable PEM private key ({detail})")]
    Key {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The key does not match the certificate, or rustls refused them.
    #[error("certificate and key: {0}")]
    Config(String),
    /// The client CA file holds no certificate rustls accepts as a trust
    /// anchor.
    #[error("{path}: no usable CA certificate for client certificates ({detail})")]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let read = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    f.take(MAX_PEM_FILE + 1).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(TlsError::TooLarge(path.to_owned()));
    }
    Ok(bytes)
}

/// The client verifier for mutual TLS: client certificates must chain to
/// one of the CA certificates in `path` (PEM).
fn client_verifier(path: &Path) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let bad = |detail: String| TlsError::ClientCa {
        path: path.to_owned(),
        detail,
    };
    let pem = read_pem(path)?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(c.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("the file holds no CERTIFICATE block".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| bad(e.to_string()))
}

/// A rustls server configuration from a PEM certificate chain (leaf first)
/// and a PEM private key (PKCS#8, PKCS#1 or SEC1), offering HTTP/1.1 by
/// ALPN; with `client_ca`, every client must present a certificate that
/// chains to a CA certificate in that PEM file.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = read_pem(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert.to_owned(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_owned(),
            detail: "the file holds no CERTIFICATE block".into(),
        });
    }
    let key_pem = read_pem(key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        detail: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands axum only connections whose TLS handshake is done.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serve TLS on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_PENDING_HANDSHAKES);
        let accept_loop = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(Self {
            local,
            ready,
            accept_loop,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let permits = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                // Out of file descriptors and the like: as axum does over
                // plain TCP, wait a moment and go on.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            // A failed or slow handshake only closes that connection.
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                let _ = ready.send((tls, peer)).await;
            }
            drop(permit);
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cairn-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn loads_a_self_signed_certificate() {
        let d = tmp("ok");
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = write(&d, "cert.pem", &c.cert.pem());
        let key = write(&d, "key.pem", &c.signing_key.serialize_pem());
        let cfg = server_config(&cert, &key, None).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn client_certificates_need_a_usable_ca_file() {
        let d = tmp("client-ca");
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = write(&d, "cert.pem", &c.cert.pem());
        let key = write(&d, "key.pem", &c.signing_key.serialize_pem());
        let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
        let ca_file = write(&d, "ca.pem", &ca.pem());
        assert!(server_config(&cert, &key, Some(&ca_file)).is_ok());
        let junk = write(&d, "junk.pem", "no certificate here\n");
        assert!(matches!(
            server_config(&cert, &key, Some(&junk)),
            Err(TlsError::ClientCa { .. })
        ));
        assert!(matches!(
            server_config(&cert, &key, Some(&d.join("missing.pem"))),
            Err(TlsError::Read { .. })
        ));
    }

    #[test]
    fn refuses_bad_files_by_variant() {
        let d = tmp("bad");
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = write(&d, "cert.pem", &c.cert.pem());
        let key = write(&d, "key.pem", &c.signing_key.serialize_pem());
        let wrong_key = write(&d, "other.pem", &other.signing_key.serialize_pem());
        let junk = write(&d, "junk.pem", "not pem at all\n");
        assert!(matches!(
            server_config(&d.join("missing.pem"), &key, None),
            Err(TlsError::Read { .. })
        ));
        assert!(matches!(
            server_config(&junk, &key, None),
            Err(TlsError::Certificate { .. })
        ));
        // A key where the certificate should be, and the reverse.
        assert!(matches!(
            server_config(&key, &key, None),
            Err(TlsError::Certificate { .. })
        ));
        assert!(matches!(server_config(&cert, &cert, None), Err(TlsError::Key { .. })));
        assert!(matches!(
            server_config(&cert, &wrong_key, None),
            Err(TlsError::Config(_))
        ));
        let big = d.join("big.pem");
        std::fs::write(&big, vec![b'a'; MAX_PEM_FILE as usize + 1]).unwrap();
        assert!(matches!(server_config(&big, &key, None), Err(TlsError::TooLarge(_))));
    }
}
