//! `cairn-gate policy`: tools for policy authors.
//!
//! - `policy pack DIR [-o FILE]`: pack a policy directory into a canonical
//!   bundle file; prints its hash.
//! - `policy hash FILE`: verify a bundle file and print its hash and manifest.
//! - `policy eval BUNDLE REQUEST.json [--json]`: one decision (BUNDLE is a
//!   bundle file or a policy directory; REQUEST.json is a decision input:
//!   `{request, approval?, lineage?, nd_inputs: {clock, ...}}`).
//! - `policy check DIR`: compile, then report rules that can never match,
//!   ALLOW rules shadowed by a DENY, and globs outside the vocabulary.
//!
//! Exit codes: 0 done (for `check`: no findings); 1 the bundle is bad or
//! `check` has findings; 3 a file could not be read or written; 4 usage, or
//! a decision input that is not one (or whose request no receipt could
//! record: `decide` and `serve` refuse it too).

use std::path::{Path, PathBuf};

use cairn_api::policy::{Bundle, DecisionInput, Policy};
use cairn_gate::policy_dir::{PackError, pack_dir};
use cairn_host::file::read_bounded;
use cairn_host::outln;

/// Largest decision input file accepted.
const MAX_REQUEST_BYTES: u64 = 256 * 1024;

/// `cairn-gate policy ...`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Pack a policy directory into a canonical bundle file.
    Pack {
        /// The policy directory (with bundle.json).
        dir: PathBuf,
        /// Output file (default: <bundle_id>-<revision>.bundle in the current directory).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Verify a bundle file and print its hash and manifest.
    Hash {
        /// The bundle file.
        file: PathBuf,
    },
    /// Evaluate one decision input against a bundle.
    Eval {
        /// A bundle file or a policy directory.
        bundle: PathBuf,
        /// The decision input, JSON.
        request: PathBuf,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compile a policy directory and report dead or shadowed rules.
    Check {
        /// The policy directory.
        dir: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

enum Failure {
    Bad(String),
    Io(String),
    /// The decision input is not one (exit 4).
    Input(String),
}

/// A decision input file: `{request, approval?, lineage?, nd_inputs}`, its
/// request read as `serve` and `decide` read one
/// ([`cairn_gate_server::authzen::recordable_request`]).
fn decision_input(raw: &[u8]) -> Result<DecisionInput, String> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
    let request = v
        .as_object_mut()
        .and_then(|o| o.remove("request"))
        .ok_or("not a decision input: no request")?;
    let request = cairn_gate_server::authzen::recordable_request(request).map_err(|e| e.to_string())?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "request".into(),
            serde_json::to_value(&request).map_err(|e| e.to_string())?,
        );
    }
    serde_json::from_value(v).map_err(|e| format!("not a decision input: {e}"))
}

fn pack_error(e: PackError) -> Failure {
    match e {
        PackError::Io { .. } | PackError::Read(_) => Failure::Io(e.to_string()),
        other => Failure::Bad(other.to_string()),
    }
}

fn load(path: &Path) -> Result<Bundle, Failure> {
    cairn_gate::policy_dir::load(path).map_err(pack_error)
}

/// A bundle file or a policy directory, for the other commands.
pub(crate) fn load_bundle(path: &Path) -> Result<Bundle, String> {
    load(path).map_err(|f| match f {
        Failure::Bad(m) | Failure::Io(m) | Failure::Input(m) => m,
    })
}

fn compile(b: &Bundle, origin: &Path) -> Result<Policy, Failure> {
    Policy::compile(b).map_err(|e| Failure::Bad(format!("{}: {e}", origin.display())))
}

fn run_inner(cmd: &Command) -> Result<u8, Failure> {
    match cmd {
        Command::Pack { dir, out } => {
            let b = pack_dir(dir).map_err(pack_error)?;
            compile(&b, dir)?;
            let m = b.manifest();
            let out = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}-{}.bundle", m.bundle_id, m.revision)));
            std::fs::write(&out, b.as_bytes()).map_err(|e| Failure::Io(format!("{}: {e}", out.display())))?;
            outln!(
                "{}  {} ({} bytes, {} files)",
                b.hash(),
                out.display(),
                b.as_bytes().len(),
                m.files.len()
            );
            Ok(0)
        }
        Command::Hash { file } => {
            let b = load(file)?;
            let m = b.manifest();
            outln!("{}", b.hash());
            outln!(
                "bundle {} revision {} engine {} {}",
                m.bundle_id,
                m.revision,
                m.engine.name,
                m.engine.version
            );
            outln!("created {}", m.created_at);
            for (path, h) in &m.files {
                outln!("  {h}  {path}");
            }
            Ok(0)
        }
        Command::Eval { bundle, request, json } => {
            let b = load(bundle)?;
            let policy = compile(&b, bundle)?;
            let raw = read_bounded(request, MAX_REQUEST_BYTES).map_err(|e| Failure::Io(e.to_string()))?;
            let input = decision_input(&raw).map_err(|e| Failure::Input(format!("{}: {e}", request.display())))?;
            let d = policy.decide(&input);
            if *json {
                let out = serde_json::json!({ "bundle_hash": b.hash(), "decision": d });
                outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                outln!("{}", d.decision);
                outln!(
                    "rules:   {}",
                    if d.determining_rules.is_empty() {
                        "(none)".into()
                    } else {
                        d.determining_rules.join(", ")
                    }
                );
                outln!("reason:  {}", d.reason.code);
                outln!("user:    {}", d.reason.user_message);
                outln!("admin:   {}", d.reason.admin_message);
                for e in &d.errors {
                    outln!("error:   {e}");
                }
                outln!("bundle:  {}", b.hash());
            }
            Ok(0)
        }
        Command::Check { dir, json } => {
            let b = pack_dir(dir).map_err(pack_error)?;
            let policy = compile(&b, dir)?;
            let findings = policy.check();
            let m = b.manifest();
            if *json {
                let v = serde_json::json!({
                    "command": "policy check",
                    "valid": findings.is_empty(),
                    "exit_code": u8::from(!findings.is_empty()),
                    "bundle_id": m.bundle_id,
                    "revision": m.revision,
                    "engine": {"name": m.engine.name, "version": m.engine.version},
                    "bundle_hash": b.hash(),
                    "note": policy.check_note(),
                    "findings": findings
                        .iter()
                        .map(|f| serde_json::json!({"rule": f.rule, "kind": f.kind, "message": f.message}))
                        .collect::<Vec<_>>(),
                });
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(u8::from(!findings.is_empty()));
            }
            if let Some(note) = policy.check_note() {
                outln!("note: {note}");
            }
            for f in &findings {
                outln!("{}: [{}] {}", dir.display(), f.kind, f.message);
            }
            outln!(
                "{} {} revision {}: {} finding(s); bundle hash {}",
                m.engine.name,
                m.bundle_id,
                m.revision,
                findings.len(),
                b.hash()
            );
            Ok(u8::from(!findings.is_empty()))
        }
    }
}

/// Run a `policy` subcommand; returns the exit code.
pub fn run(cmd: &Command) -> u8 {
    match run_inner(cmd) {
        Ok(code) => code,
        Err(Failure::Bad(msg)) => {
            eprintln!("cairn-gate policy: {msg}");
            1
        }
        Err(Failure::Io(msg)) => {
            eprintln!("cairn-gate policy: {msg}");
            3
        }
        Err(Failure::Input(msg)) => {
            eprintln!("cairn-gate policy: {msg}");
            4
        }
    }
}
