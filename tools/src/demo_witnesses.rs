//! The demo's two witnesses: `cairn-witness` services on loopback ports,
//! each with its own key and state directory under the demo's output
//! (fresh each run, like the demo's log), and the 2-of-2 policy the
//! ledger, the gate and the auditor share.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::examples;
use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_api::note::Checkpoint;
use cairn_api::witness::WitnessPolicy;
use cairn_gate::client::Http;

/// The witnesses' round interval in the demo (short: the demo is brief).
pub const DEMO_INTERVAL: Duration = Duration::from_millis(200);

/// Two running witnesses.
#[derive(Debug)]
pub struct DemoWitnesses {
    _runtime: tokio::runtime::Runtime,
    /// The `witness`, `group` and `quorum` statements (with URLs).
    pub statements: String,
    /// The same, parsed.
    pub policy: WitnessPolicy,
}

fn serve(rt: &tokio::runtime::Runtime, key: SignerKey, dir: &Path) -> Result<String, String> {
    let _ = std::fs::remove_dir_all(dir);
    let state = cairn_witness::State::open(dir).map_err(|e| e.to_string())?;
    let w = cairn_witness::Witness::new(key, vec![examples::log_key().verifier()], state);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    rt.spawn(async move { axum::serve(listener, cairn_witness::http::router(Arc::new(w))).await });
    Ok(url)
}

impl DemoWitnesses {
    /// Start both, their state in `out/witness-1` and `out/witness-2`.
    pub fn start(out: &Path) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut statements = String::new();
        for (n, key) in [(1, examples::witness_key()), (2, examples::witness2_key())] {
            let url = serve(&runtime, key.clone(), &out.join(format!("witness-{n}")))?;
            statements.push_str(&format!("witness w{n} {} {url}\n", key.verifier()));
        }
        statements.push_str("group both all w1 w2\nquorum both\n");
        let policy = WitnessPolicy::parse(&statements).map_err(|e| e.to_string())?;
        Ok(DemoWitnesses {
            _runtime: runtime,
            statements,
            policy,
        })
    }

    /// Wait (at most `limit`) until the ledger at `url` serves a checkpoint
    /// of `size` with the quorum's cosignatures; the cosigners' names.
    pub fn wait_cosigned(
        &self,
        url: &str,
        log_key: &VerifierKey,
        size: u64,
        limit: Duration,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + limit;
        let http = Http::new(url);
        loop {
            if let Ok((200, note)) = http.get("/checkpoint", 65_536, Duration::from_secs(5))
                && let Ok((cp, _, cosigs)) = Checkpoint::verify(&note, log_key, &self.policy.keys())
            {
                let keys: Vec<VerifierKey> = cosigs.into_iter().map(|c| c.key).collect();
                if cp.size >= size && self.policy.quorum_met(&keys) {
                    return Ok(self.policy.names_of(&keys));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("the witnesses did not cosign size {size} within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
