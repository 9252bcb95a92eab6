//! The ledger's admin API as a gate operator uses it: key statements and
//! policy bundles posted with the admin bearer credential, answered with
//! a typed acknowledgement ([`cairn_api::wire::Ack`]).

use std::path::PathBuf;
use std::time::Duration;

use cairn_api::wire::Ack;
use cairn_host::keyfile::{self, ADMIN_TOKEN_ENV, KeyFileError};

use crate::client::{Http, LedgerError, problem};

/// How long an admin call may take.
pub const ADMIN_DEADLINE: Duration = Duration::from_secs(30);

/// An admin call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No credential given (the operator's fault).
    #[error("no admin credential: give --admin-token-file or set {ADMIN_TOKEN_ENV}")]
    NoCredential,
    /// The credential file could not be used (the operator's fault).
    #[error("admin credential: {0}")]
    Credential(#[from] KeyFileError),
    /// The ledger refused the submission, or could not be reached.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The ledger's answer is not an acknowledgement (the ledger's fault).
    #[error("the ledger's answer is not an acknowledgement: {0}")]
    BadAnswer(String),
}

impl AdminError {
    /// The exit code the CLIs give it: 4 for a missing credential (usage),
    /// 1 when the ledger refused, 3 when it or a file could not be reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NoCredential => 4,
            AdminError::Ledger(LedgerError::Refused { .. }) => 1,
            AdminError::Credential(_) | AdminError::Ledger(_) | AdminError::BadAnswer(_) => 3,
        }
    }
}

/// The ledger connection every networked command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct LedgerArgs {
    /// The ledger's base URL.
    #[arg(long, env = "CAIRN_LEDGER_URL", default_value = "http://127.0.0.1:8417")]
    pub url: String,
    /// File with the admin bearer credential (else CAIRN_ADMIN_TOKEN).
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
}

impl LedgerArgs {
    /// The admin credential: the file's, else the environment's.
    pub fn token(&self) -> Result<String, AdminError> {
        keyfile::admin_token(self.admin_token_file.as_deref())?.ok_or(AdminError::NoCredential)
    }

    /// An admin client for this ledger.
    pub fn admin(&self) -> Result<Admin, AdminError> {
        Ok(Admin::new(&self.url, &self.token()?))
    }
}

/// An admin client: the ledger's URL and the bearer credential.
#[derive(Clone)]
pub struct Admin {
    http: Http,
    auth: String,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("url", &self.http.base())
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// A client for the ledger at `url` with credential `token`.
    pub fn new(url: &str, token: &str) -> Self {
        Admin {
            http: Http::new(url),
            auth: format!("Bearer {token}"),
        }
    }

    /// POST a COSE_Sign1 body to an admin route (`/v1/keys`,
    /// `/v1/policies`); the acknowledgement.
    pub fn post_cose(&self, path: &str, body: &[u8]) -> Result<Ack, AdminError> {
        let (status, bytes) = self.http.post(
            path,
            "application/cose",
            &[("Authorization", &self.auth)],
            body,
            ADMIN_DEADLINE,
        )?;
        if status != 200 && status != 201 {
            return Err(problem(status, &bytes).into());
        }
        serde_json::from_slice(&bytes).map_err(|e| AdminError::BadAnswer(e.to_string()))
    }

    /// Register or revoke a key: post a signed key statement.
    pub fn post_key(&self, statement: &[u8]) -> Result<Ack, AdminError> {
        self.post_cose("/v1/keys", statement)
    }

    /// Archive a policy bundle: post it signed.
    pub fn post_policy(&self, signed_bundle: &[u8]) -> Result<Ack, AdminError> {
        self.post_cose("/v1/policies", signed_bundle)
    }
}
