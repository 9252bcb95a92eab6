//! `cairn-gate proofs refresh`: upgrade saved tlog-proofs to the ledger's
//! witnessed checkpoint (see `cairn_gate::refresh`).

use std::path::PathBuf;

use cairn_api::witness::WitnessPolicy;
use cairn_gate::client::Http;
use cairn_gate::refresh::{Outcome, refresh_dir};
use cairn_host::outln;

use crate::ops::{Fail, print_json};

/// Exit code when some proofs still wait for the witness quorum.
pub const EXIT_PENDING: u8 = 2;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Replace each saved `<id>.tlog-proof` by one against the ledger's
    /// newest cosigned checkpoint, once it meets the witness quorum.
    Refresh {
        /// The directory `decide --save` writes to.
        #[arg(long)]
        dir: PathBuf,
        /// The ledger's base URL.
        #[arg(long, env = "CAIRN_LEDGER_URL", default_value = "http://127.0.0.1:8417")]
        url: String,
        /// The log's verifier key (vkey string or @FILE).
        #[arg(long)]
        log_key: String,
        /// The witness file (`witness NAME KEY [URL]`, `group`, `quorum`
        /// lines: the trust file's statements).
        #[arg(long)]
        witnesses: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn label(o: &Outcome) -> (&'static str, String) {
    match o {
        Outcome::AlreadyWitnessed => ("witnessed", "already witnessed".into()),
        Outcome::Upgraded(size) => (
            "upgraded",
            format!("upgraded to the cosigned checkpoint of size {size}"),
        ),
        Outcome::Pending(names) => (
            "pending",
            format!(
                "waiting for the witness quorum (cosigned by: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ),
        Outcome::Failed(e) => ("failed", e.clone()),
        _ => ("failed", format!("{o:?}")),
    }
}

/// Run; `Ok(code)` is the exit code.
pub fn run(cmd: &Command) -> Result<u8, Fail> {
    let Command::Refresh {
        dir,
        url,
        log_key,
        witnesses,
        json,
    } = cmd;
    let log_key = cairn_host::keyfile::read_vkey_arg(log_key).map_err(|e| Fail(4, format!("--log-key: {e}")))?;
    let text = cairn_host::file::read_text(witnesses, 64 * 1024).map_err(|e| Fail(3, e.to_string()))?;
    let policy = WitnessPolicy::parse(&text).map_err(|e| Fail(4, format!("{}: {e}", witnesses.display())))?;
    if policy.quorum().is_none() {
        return Err(Fail(
            4,
            format!("{}: no witness quorum to wait for", witnesses.display()),
        ));
    }
    let done = refresh_dir(dir, &Http::new(url), &log_key, &policy).map_err(|e| Fail(3, e.to_string()))?;
    let failed = done.count(|o| matches!(o, Outcome::Failed(_)));
    let pending = done.count(|o| matches!(o, Outcome::Pending(_)));
    if *json {
        print_json(&serde_json::json!({
            "command": "proofs refresh",
            "files": done.files.iter().map(|(p, o)| {
                let (status, detail) = label(o);
                serde_json::json!({"file": p.display().to_string(), "status": status, "detail": detail})
            }).collect::<Vec<_>>(),
            "upgraded": done.count(|o| matches!(o, Outcome::Upgraded(_))),
            "witnessed": done.count(|o| matches!(o, Outcome::AlreadyWitnessed)),
            "pending": pending,
            "failed": failed,
        }));
    } else {
        for (p, o) in &done.files {
            outln!("{}: {}", p.display(), label(o).1);
        }
    }
    Ok(if failed > 0 {
        1
    } else if pending > 0 {
        EXIT_PENDING
    } else {
        0
    })
}
