//! Key and credential files: signing keys and the admin credential are read
//! with a size bound and refused when others can read them; written 0600,
//! never over an existing file. Verifier keys are given as a C2SP vkey
//! string or as `@FILE` holding one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cairn_api::keys::{KeyError, KeyType, SignerKey, VerifierKey};

use crate::file::{ReadError, read_open, read_text};

/// The environment variable holding the admin credential when no file is named.
pub const ADMIN_TOKEN_ENV: &str = "CAIRN_ADMIN_TOKEN";

/// The admin bearer credential: the file's (refused when others can read
/// it), else [`ADMIN_TOKEN_ENV`]'s; `None` when neither gives one (an
/// empty variable gives none).
pub fn admin_token(file: Option<&Path>) -> Result<Option<String>, KeyFileError> {
    match file {
        Some(p) => Ok(Some(read_secret(p)?)),
        None => Ok(std::env::var(ADMIN_TOKEN_ENV).ok().filter(|t| !t.is_empty())),
    }
}

/// Largest key or token file read, in bytes.
pub const MAX_SECRET_FILE: u64 = 4096;
/// Largest verifier-key file read, in bytes.
pub const MAX_VKEY_FILE: u64 = 4096;
/// The log signing key's file name in a ledger data directory.
pub const LOG_KEY_FILE: &str = "log.key";
/// The log's public verifier key, beside the private one, for auditors and gates.
pub const LOG_VKEY_FILE: &str = "log.vkey";

/// A key file could not be used: the operator's files or the machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read, created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be read within its bound.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Others can read the file.
    #[error("{} is readable by others (mode {mode:o}); run chmod 600 on it", path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file or argument does not hold the key expected.
    #[error("{what}: {source}")]
    Key {
        /// The file or argument.
        what: String,
        /// Why.
        source: KeyError,
    },
    /// A verifier (public) key was given where the private key belongs.
    #[error("{} holds a verifier (public) key: give the private key file that `keygen --out` wrote", path.display())]
    PublicKey {
        /// The file.
        path: PathBuf,
    },
    /// A private key was given where a verifier key belongs (it is not
    /// echoed).
    #[error(
        "{what} is a private key: give its verifier key instead (`keygen` prints it; a ledger's is DATA_DIR/log.vkey)"
    )]
    PrivateKey {
        /// The file, or "the key given".
        what: String,
    },
    /// No randomness for a new key.
    #[error("{0}")]
    Random(#[from] crate::id::IdError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Read a secret file (trimmed), refusing one others can read.
pub fn read_secret(path: &Path) -> Result<String, KeyFileError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = f.metadata().map_err(io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
    }
    let bytes = read_open(f, path, MAX_SECRET_FILE)?;
    let s = String::from_utf8(bytes).map_err(|_| ReadError::NotText { path: path.to_owned() })?;
    Ok(s.trim().to_owned())
}

/// Create `path` with mode 0600 holding `text` and a newline, durably;
/// never over an existing file.
pub fn write_secret(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(format!("{text}\n").as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A verifier key given as a C2SP vkey string or as `@FILE` holding one
/// (read with a size bound). A private key given here is refused without
/// being echoed.
pub fn read_vkey_arg(arg: &str) -> Result<VerifierKey, KeyFileError> {
    let (text, what) = match arg.strip_prefix('@') {
        Some(p) => (read_text(Path::new(p), MAX_VKEY_FILE)?, p.to_owned()),
        None => (arg.to_owned(), "the key given".to_owned()),
    };
    if SignerKey::parse(text.trim()).is_ok() {
        return Err(KeyFileError::PrivateKey { what });
    }
    VerifierKey::parse(text.trim()).map_err(|source| KeyFileError::Key { what, source })
}

/// A new random signing key.
pub fn new_key(name: &str, key_type: KeyType) -> Result<SignerKey, KeyFileError> {
    let seed = crate::id::random_seed()?;
    SignerKey::from_seed(name, key_type, &seed).map_err(|source| KeyFileError::Key {
        what: "--name".into(),
        source,
    })
}

/// Read a signing key file. A verifier key file given here is named as
/// such (before its permissions are judged: a public key is 0644).
pub fn read_key(path: &Path) -> Result<SignerKey, KeyFileError> {
    if let Ok(text) = read_text(path, MAX_SECRET_FILE)
        && VerifierKey::parse(text.trim()).is_ok()
    {
        return Err(KeyFileError::PublicKey { path: path.to_owned() });
    }
    SignerKey::parse(&read_secret(path)?).map_err(|source| KeyFileError::Key {
        what: path.display().to_string(),
        source,
    })
}

/// The log key of the data directory `dir`, created (named `origin`) on
/// first use; `true` when it was created now. Its verifier key is written
/// to `dir/log.vkey` when that file is missing.
pub fn log_key(dir: &Path, origin: &str) -> Result<(SignerKey, bool), KeyFileError> {
    let path = dir.join(LOG_KEY_FILE);
    let (k, created) = if path.exists() {
        (read_key(&path)?, false)
    } else {
        let k = new_key(origin, KeyType::Ed25519)?;
        write_secret(&path, &k.to_private_string())?;
        (k, true)
    };
    let public = dir.join(LOG_VKEY_FILE);
    if !public.exists() {
        std::fs::write(&public, format!("{}\n", k.verifier())).map_err(io(&public))?;
    }
    Ok((k, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_exposed_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("cairn-keyfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (k, created) = log_key(&dir, "t.example/log").unwrap();
        assert!(created);
        assert_eq!(
            std::fs::read_to_string(dir.join(LOG_VKEY_FILE)).unwrap().trim(),
            k.verifier().to_string()
        );
        let (again, created) = log_key(&dir, "other").unwrap();
        assert!(!created);
        assert_eq!(k.verifier(), again.verifier());
        assert!(matches!(
            write_secret(&dir.join(LOG_KEY_FILE), "x"),
            Err(KeyFileError::Io { .. })
        ));
        let junk = dir.join("junk.key");
        write_secret(&junk, "not a key").unwrap();
        assert!(matches!(read_key(&junk), Err(KeyFileError::Key { .. })));
        // Verifier keys inline or from a file, bounded.
        let vk = k.verifier().to_string();
        assert_eq!(read_vkey_arg(&vk).unwrap(), k.verifier());
        let vfile = dir.join("log.vkey");
        assert_eq!(read_vkey_arg(&format!("@{}", vfile.display())).unwrap(), k.verifier());
        assert!(matches!(read_vkey_arg("nonsense"), Err(KeyFileError::Key { .. })));
        assert!(matches!(
            read_vkey_arg("@/no/such/file"),
            Err(KeyFileError::Read(ReadError::Io { .. }))
        ));
        // A public key where the private key belongs, and the reverse.
        let public = dir.join("pub.vkey");
        std::fs::write(&public, format!("{}\n", k.verifier())).unwrap();
        assert!(matches!(read_key(&public), Err(KeyFileError::PublicKey { .. })));
        let e = read_vkey_arg(&format!("@{}", dir.join(LOG_KEY_FILE).display())).unwrap_err();
        assert!(matches!(e, KeyFileError::PrivateKey { .. }));
        let e = read_vkey_arg(&k.to_private_string()).unwrap_err();
        assert!(matches!(&e, KeyFileError::PrivateKey { what } if what == "the key given"));
        assert!(!e.to_string().contains(&k.to_private_string()), "never echoed");
        let big = dir.join("big.key");
        write_secret(&big, &"a".repeat(MAX_SECRET_FILE as usize + 1)).unwrap();
        assert!(matches!(
            read_secret(&big),
            Err(KeyFileError::Read(ReadError::TooLarge { .. }))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let p = dir.join(LOG_KEY_FILE);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
            assert!(matches!(read_key(&p), Err(KeyFileError::Exposed { mode: 0o640, .. })));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
