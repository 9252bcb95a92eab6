//! Load is shed before work: a submission takes an in-flight slot, and
//! room for its declared body in an in-flight byte budget, before its body
//! is read; without room it is answered 503 `busy` (with Retry-After) at
//! once. The black-box test's 32,768 submissions in flight against a queue
//! of 8,192 each did the whole admission (body, signature, look-ups) before
//! finding the queue full, and took up to 44 s to be refused.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;
use crate::sequencer::SubmitError;

/// The default bound on submissions in flight (the sequencer's queue).
pub const MAX_IN_FLIGHT: usize = 8192;
/// The default bound on the bytes of submission bodies in flight.
pub const MAX_IN_FLIGHT_BYTES: usize = 256 << 20;

/// The in-flight budget, shared by every submission route.
#[derive(Debug, Clone)]
pub struct InFlight {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
}

/// A submission's share of the budget, returned when it is answered.
#[derive(Debug)]
pub struct Admitted {
    _request: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

impl InFlight {
    /// At most `requests` submissions and `bytes` body bytes in flight.
    pub fn new(requests: usize, bytes: usize) -> Self {
        InFlight {
            requests: Arc::new(Semaphore::new(requests.clamp(1, Semaphore::MAX_PERMITS))),
            bytes: Arc::new(Semaphore::new(bytes.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// Admit a submission whose body is at most `limit` bytes (its declared
    /// length when smaller), or refuse it at once.
    pub fn admit(&self, headers: &HeaderMap, limit: usize) -> Result<Admitted, ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(limit)
            .min(limit)
            .max(1);
        let request = self.requests.clone().try_acquire_owned();
        let bytes = self
            .bytes
            .clone()
            .try_acquire_many_owned(u32::try_from(declared).unwrap_or(u32::MAX));
        match (request, bytes) {
            (Ok(r), Ok(b)) => Ok(Admitted { _request: r, _bytes: b }),
            _ => Err(ApiError::from(SubmitError::Busy)),
        }
    }
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(MAX_IN_FLIGHT, MAX_IN_FLIGHT_BYTES)
    }
}
