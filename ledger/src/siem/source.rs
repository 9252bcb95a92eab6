//! Where the follower reads the log: a ledger's HTTP API (any instance),
//! bounded in time and in what it reads back. [`LogSource`] is what
//! [`super::follow`] needs; [`HttpLedger`] is the real one.

use std::time::Duration;

use cairn_api::merkle::Hash;
use cairn_api::tiles::{TILE_WIDTH, TileId, TileKind, decode_bundle};
use cairn_api::wire;

use super::SiemError;

/// The largest checkpoint read (a note with many cosignatures).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;
/// The largest consistency proof answer read.
pub const MAX_PROOF_BYTES: u64 = 64 * 1024;
/// The largest entry bundle read: 256 entries of the largest size.
pub const MAX_BUNDLE_BYTES: u64 = TILE_WIDTH * (2 + u16::MAX as u64);

/// The reads the follower makes.
pub trait LogSource {
    /// The signed checkpoint (`GET /checkpoint`), unverified.
    fn checkpoint(&self) -> Result<Vec<u8>, SiemError>;
    /// Entries from `start` (at least one, at most `end - start`, at most
    /// to the end of `start`'s entry bundle), as the bytes the log holds.
    /// `end` must not exceed the size of a checkpoint the ledger served.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, SiemError>;
    /// The consistency proof from size `from` to size `to`.
    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, SiemError>;
}

impl<T: LogSource + ?Sized> LogSource for &T {
    fn checkpoint(&self) -> Result<Vec<u8>, SiemError> {
        (**self).checkpoint()
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, SiemError> {
        (**self).entries(start, end)
    }

    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, SiemError> {
        (**self).consistency(from, to)
    }
}

/// A ledger's HTTP API.
#[derive(Debug, Clone)]
pub struct HttpLedger {
    base: String,
    agent: ureq::Agent,
}

impl HttpLedger {
    /// The ledger at `base` (`http://host:port`); every call takes at most
    /// `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        HttpLedger {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn get(&self, path: &str, limit: u64) -> Result<Vec<u8>, SiemError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |detail: String| SiemError::Unreachable {
            url: url.clone(),
            detail,
        };
        let mut resp = self.agent.get(&url).call().map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| unreachable(e.to_string()))?;
        match status {
            200 => Ok(body),
            // Busy, restarting, or a follower instance without the data yet.
            429 | 500..=599 => Err(unreachable(format!("HTTP {status}"))),
            _ => Err(SiemError::BadAnswer {
                url,
                detail: format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
            }),
        }
    }
}

impl LogSource for HttpLedger {
    fn checkpoint(&self) -> Result<Vec<u8>, SiemError> {
        self.get("/checkpoint", MAX_CHECKPOINT_BYTES)
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, SiemError> {
        if end <= start {
            return Ok(Vec::new());
        }
        // The entry bundle holding `start`, as wide as `end` allows: a
        // partial bundle of any width the tree has is served, and never
        // changes.
        let index = start / TILE_WIDTH;
        let first = index * TILE_WIDTH;
        let width = (end - first).min(TILE_WIDTH) as u16;
        let tile = TileId {
            kind: TileKind::Entries,
            index,
            width,
        };
        let path = format!("/{}", tile.path());
        let body = self.get(&path, MAX_BUNDLE_BYTES)?;
        let entries = decode_bundle(&body, width).map_err(|e| SiemError::BadAnswer {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })?;
        let skip = (start - first) as usize;
        Ok(entries.into_iter().skip(skip).map(<[u8]>::to_vec).collect())
    }

    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, SiemError> {
        let path = format!("/v1/proofs/consistency?from={from}&to={to}");
        let body = self.get(&path, MAX_PROOF_BYTES)?;
        let p: wire::ConsistencyProof = serde_json::from_slice(&body).map_err(|e| SiemError::BadAnswer {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })?;
        if (p.from, p.to) != (from, to) {
            return Err(SiemError::BadAnswer {
                url: format!("{}{path}", self.base),
                detail: format!("a proof from {} to {}", p.from, p.to),
            });
        }
        Ok(p.proof)
    }
}
