//! One `add-checkpoint` call to one witness (C2SP tlog-witness), bounded
//! in time and in the size of what is read back, and its answer sorted
//! into what the round does with it.

use std::time::Duration;

use cairn_api::note::NoteSignature;
use cairn_api::witness::AddCheckpoint;
use cairn_api::witness::protocol::{
    ADD_CHECKPOINT_PATH, MAX_COSIGNATURE_BODY_BYTES, parse_cosignatures, parse_size_body,
};

/// What a witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200`: its signature lines (not yet verified).
    Cosigned(Vec<NoteSignature>),
    /// `409` with `text/x.tlog.size`: the size it last cosigned.
    Conflict(u64),
    /// Any other answer the text defines (`400`, `403`, `404`, `409`
    /// without a size, `422`) or does not: never retried in a loop.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of the body, for the operator's log.
        detail: String,
    },
    /// No answer in time, or a connection failure.
    Unreachable(String),
    /// An answer that does not parse, or a cosignature that does not
    /// verify under the witness's key.
    Invalid(String),
}

impl Answer {
    /// The metric label of a refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            Answer::Cosigned(_) => "cosigned",
            Answer::Conflict(_) => "conflict",
            Answer::Refused { status: 400, .. } => "bad-request",
            Answer::Refused { status: 403, .. } => "forbidden",
            Answer::Refused { status: 404, .. } => "unknown-log",
            Answer::Refused { status: 409, .. } => "fork",
            Answer::Refused { status: 422, .. } => "inconsistent",
            Answer::Refused { .. } => "other",
            Answer::Unreachable(_) => "unreachable",
            Answer::Invalid(_) => "invalid-answer",
        }
    }
}

/// A client for witnesses: one connection pool, every call bounded by
/// `timeout` from start to the last byte.
#[derive(Debug, Clone)]
pub struct WitnessClient {
    agent: ureq::Agent,
}

impl WitnessClient {
    /// A client whose calls take at most `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        WitnessClient { agent }
    }

    /// `POST <url>/add-checkpoint` (blocking: call it off the runtime).
    pub fn add_checkpoint(&self, url: &str, req: &AddCheckpoint) -> Answer {
        let target = format!("{url}{ADD_CHECKPOINT_PATH}");
        let mut resp = match self
            .agent
            .post(&target)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(&req.to_bytes()[..])
        {
            Ok(r) => r,
            Err(e) => return Answer::Unreachable(format!("{target}: {e}")),
        };
        let status = resp.status().as_u16();
        let is_size = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(cairn_api::witness::protocol::SIZE_CONTENT_TYPE));
        let body = match resp
            .body_mut()
            .with_config()
            .limit(MAX_COSIGNATURE_BODY_BYTES as u64)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(e) => return Answer::Unreachable(format!("{target}: {e}")),
        };
        match status {
            200 => match parse_cosignatures(&body) {
                Ok(sigs) => Answer::Cosigned(sigs),
                Err(e) => Answer::Invalid(format!("{target}: a 200 answer that is not cosignature lines: {e}")),
            },
            409 if is_size => match parse_size_body(&body) {
                Ok(size) => Answer::Conflict(size),
                Err(e) => Answer::Invalid(format!("{target}: a 409 answer without a size: {e}")),
            },
            _ => Answer::Refused {
                status,
                detail: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            },
        }
    }
}
