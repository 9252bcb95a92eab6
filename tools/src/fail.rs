//! A command's failure and its exit code: 1 failure, 3 a file or the
//! ledger could not be reached, 4 usage.

use cairn_gate::admin::AdminError;

/// A failure and its exit code.
#[derive(Debug)]
pub struct Fail(pub u8, pub String);

impl Fail {
    /// Exit code 3: a file, the clock or the ledger.
    pub fn io(e: impl std::fmt::Display) -> Self {
        Fail(3, e.to_string())
    }

    /// Exit code 1.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Fail(1, e.to_string())
    }
}

impl From<AdminError> for Fail {
    fn from(e: AdminError) -> Self {
        Fail(e.exit_code(), e.to_string())
    }
}

/// Now, or exit code 3.
pub fn now() -> Result<cairn_api::timestamp::Timestamp, Fail> {
    cairn_host::clock::now().map_err(Fail::io)
}
