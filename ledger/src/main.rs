//! `cairn-ledger`: the durable Merkle ledger service.
//!
//! - `serve [--config FILE] --data-dir DIR [--listen ADDR] [--origin NAME]`
//!   `--authority VKEY... [--admin-token-file FILE]` (or `CAIRN_ADMIN_TOKEN`)
//!   `[--tls-cert PEM --tls-key PEM]`: the ledger. Every flag also has an
//!   environment variable (`cairn-ledger serve --help` names them) and a
//!   setting in the TOML file (`ledger/cairn-ledger.example.toml`); flags
//!   win over the environment, the environment over the file.
//!   On first start it creates the log signing key `DIR/log.key` (0600) and
//!   prints its verifier key; it refuses key files readable by others.
//! - `export --data-dir DIR --out FILE [--from N]`: the offline export.
//! - `export-tiles --data-dir DIR --out NEWDIR`: the log as a static C2SP
//!   tlog-tiles tree for any web server.
//! - `fsck --data-dir DIR`: offline check of the storage, read-only (exit
//!   1 and the first inconsistency when it finds one, a damaged page
//!   included).
//! - `recover --data-dir DIR`: the explicit repair of a database that was
//!   not closed cleanly (what starting the ledger does).
//! - `siem --ledger URL --log-key VKEY --cursor FILE (--otlp-endpoint URL
//!   | --ocsf FILE) [--once]`: follow a ledger into a SIEM (exit 1 when
//!   it stops on a contradiction or a refusal, cursor unmoved).
//! - `keygen --name NAME [--cosignature] --out FILE`: a signing key (0600)
//!   and its verifier key on stdout.
//!
//! Exit codes: 0 clean shutdown; 1 runtime failure; 4 usage (flags or the
//! configuration file).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_api::keys::KeyType;
use cairn_host::keyfile::{self, new_key, write_secret};
use cairn_host::log::LogArgs;
use cairn_host::outln;
use cairn_host::progress::Progress;
use cairn_ledger::config::{FileConfig, FileHttp, FileSequencer, FileWitnessing, ServeConfig, TlsFiles};
use cairn_ledger::query_index::{self, QueryIndex};
use cairn_ledger::serve;
use cairn_ledger::siem::cli::{RunError, SiemArgs};
use cairn_ledger::start::DB_FILE;
use cairn_ledger::store::{RedbStore, Store as _, StoreError};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cairn-ledger", version, about = "cairn's durable Merkle ledger")]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the ledger.
    Serve(Box<ServeArgs>),
    /// Check a ledger's storage offline: recompute the tree from the entries
    /// and check every node and every checkpoint; re-derive the indexes
    /// admission reads (leaf hash, idempotency key, bundles, key events).
    Fsck {
        /// The ledger's data directory (its log.vkey, or log.key, gives the
        /// log's public key). The database is opened read-only: fsck never
        /// writes a byte of it, and checks a copy on a read-only medium.
        #[arg(long)]
        data_dir: PathBuf,
        /// The PostgreSQL database holding the log, when the ledger keeps
        /// it there (`serve --database`); read only.
        #[arg(long, env = "CAIRN_DATABASE")]
        database: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recover a database that was not closed cleanly (after a crash or a
    /// kill), so that fsck and export can read it without writing. The
    /// ledger does the same when it starts; this is the explicit repair.
    Recover {
        /// The ledger's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Write the export (docs/spec.md section 18) offline, to a file.
    Export {
        /// The ledger's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The output file (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// First entry to export.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the log as a static C2SP tlog-tiles tree (checkpoint, hash
    /// tiles, entry bundles) into a new directory, for any web server.
    ExportTiles {
        /// The ledger's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The output directory (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow a ledger into a SIEM: deliver every logged receipt, verified
    /// against the signed checkpoint, as OpenTelemetry logs (OTLP/HTTP) or
    /// OCSF JSON lines, from a resumable cursor, at least once (the log
    /// index is the deduplication key).
    Siem(Box<SiemArgs>),
    /// Create a signing key.
    Keygen {
        /// The key name.
        #[arg(long)]
        name: String,
        /// A witness cosignature key (type 0x04) instead of Ed25519 (0x01).
        #[arg(long)]
        cosignature: bool,
        /// Where to write the private key (created 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `serve`'s flags; each also has an environment variable (`CAIRN_...`) and
/// a setting in the `--config` file (`ledger/cairn-ledger.example.toml`). A
/// flag wins over the environment, the environment over the file.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// A TOML configuration file.
    #[arg(long, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and the log key live.
    #[arg(long, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the log in this PostgreSQL database (`postgres://user@host/db`)
    /// instead of DIR/ledger.redb; several instances may share it, one
    /// writing at a time (docs/operations.md, "Running cairn highly
    /// available").
    #[arg(long, env = "CAIRN_DATABASE")]
    database: Option<String>,
    /// With --database: the URL clients reach this instance at, sent to
    /// them as the leader's while it writes.
    #[arg(long, env = "CAIRN_ADVERTISE")]
    advertise: Option<String>,
    /// With --database: the sequencer lease's time to live in ms [default: 5000].
    #[arg(long, env = "CAIRN_LEASE_TTL_MS")]
    lease_ttl_ms: Option<u64>,
    /// Address to listen on [default: 127.0.0.1:8417].
    #[arg(long, env = "CAIRN_LISTEN")]
    listen: Option<SocketAddr>,
    /// The log's origin (its key name) when the log key is first created
    /// [default: cairn.local/log].
    #[arg(long, env = "CAIRN_ORIGIN")]
    origin: Option<String>,
    /// Authority verifier keys (vkey string or @FILE), repeatable (in the
    /// environment: comma-separated).
    #[arg(long = "authority", env = "CAIRN_AUTHORITY", value_delimiter = ',')]
    authorities: Vec<String>,
    /// File holding the admin bearer credential (else CAIRN_ADMIN_TOKEN).
    #[arg(long, env = "CAIRN_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// Most entries in one group commit [default: 512].
    #[arg(long, env = "CAIRN_MAX_BATCH")]
    max_batch: Option<usize>,
    /// Longest a batch waits for more entries, in microseconds [default: 0:
    /// commit what is queued; what arrives meanwhile is the next batch].
    #[arg(long, env = "CAIRN_MAX_WAIT_US")]
    max_wait_us: Option<u64>,
    /// Submission queue capacity [default: 8192].
    #[arg(long, env = "CAIRN_QUEUE")]
    queue: Option<usize>,
    /// Largest accepted lead of decided_at over the ledger's clock, in
    /// seconds; older receipts are accepted and marked late [default: 300].
    #[arg(long, env = "CAIRN_MAX_CLOCK_SKEW_S")]
    max_clock_skew_s: Option<u64>,
    /// Largest accepted age of decided_at, in seconds: evidence held back
    /// by an outage longer than this is refused too-late [default: 2592000,
    /// 30 days].
    #[arg(long, env = "CAIRN_MAX_LATENESS_S")]
    max_lateness_s: Option<u64>,
    /// Longest a submission may wait in the queue, in milliseconds: beyond
    /// it new submissions are answered 503 busy at once (0: only a full
    /// queue sheds) [default: 500].
    #[arg(long, env = "CAIRN_MAX_QUEUE_WAIT_MS")]
    max_queue_wait_ms: Option<u64>,
    /// Receipts per second each gate key may submit [default: no limit].
    #[arg(long, env = "CAIRN_GATE_RATE_PER_S")]
    gate_rate_per_s: Option<u32>,
    /// Receipts a gate may submit at once [default: twice the rate].
    #[arg(long, env = "CAIRN_GATE_BURST")]
    gate_burst: Option<u32>,
    /// The longest a client may take to send a request body, in
    /// milliseconds [default: 10000].
    #[arg(long, env = "CAIRN_BODY_DEADLINE_MS")]
    body_deadline_ms: Option<u64>,
    /// Most connections served at once; one more is answered 503 busy with
    /// Retry-After and closed [default: 1024].
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections open at once from one IP address; one more is
    /// closed at once [default: 256].
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS_PER_SOURCE")]
    max_connections_per_source: Option<usize>,
    /// The longest a connection may take to send a request head, or stay
    /// idle between requests, in milliseconds [default: 10000].
    #[arg(long, env = "CAIRN_HEADER_TIMEOUT_MS")]
    header_timeout_ms: Option<u64>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "CAIRN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "CAIRN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The witness file (`witness NAME KEY URL`, `group`, `quorum` lines):
    /// collect cosignatures from these witnesses [default: not witnessed].
    #[arg(long, env = "CAIRN_WITNESSES")]
    witnesses: Option<PathBuf>,
    /// At most one witnessing round per this many milliseconds [default: 1000].
    #[arg(long, env = "CAIRN_WITNESS_INTERVAL_MS")]
    witness_interval_ms: Option<u64>,
    /// The bound on one witness call, in milliseconds [default: 5000].
    #[arg(long, env = "CAIRN_WITNESS_TIMEOUT_MS")]
    witness_timeout_ms: Option<u64>,
}

impl ServeArgs {
    /// File, then flags over it, then defaults.
    fn resolve(self) -> Result<ServeConfig, Fail> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let flags = FileConfig {
            data_dir: self.data_dir,
            database: self.database,
            advertise: self.advertise,
            lease_ttl_ms: self.lease_ttl_ms,
            listen: self.listen,
            origin: self.origin,
            authorities: Some(self.authorities),
            admin_token_file: self.admin_token_file,
            sequencer: FileSequencer {
                max_batch: self.max_batch,
                max_wait_us: self.max_wait_us,
                queue: self.queue,
                max_clock_skew_s: self.max_clock_skew_s,
                max_lateness_s: self.max_lateness_s,
                max_queue_wait_ms: self.max_queue_wait_ms,
                gate_rate_per_s: self.gate_rate_per_s,
                gate_burst: self.gate_burst,
            },
            http: FileHttp {
                body_deadline_ms: self.body_deadline_ms,
                max_connections: self.max_connections,
                max_connections_per_source: self.max_connections_per_source,
                header_timeout_ms: self.header_timeout_ms,
                ..FileHttp::default()
            },
            tls: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            },
            witnessing: FileWitnessing {
                witnesses: self.witnesses,
                interval_ms: self.witness_interval_ms,
                timeout_ms: self.witness_timeout_ms,
            },
        };
        Ok(file.overlay(flags).resolve()?)
    }
}

#[derive(Debug)]
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

/// `cairn-ledger siem`: stops cleanly on SIGINT or SIGTERM (the batch in
/// flight finishes first, so the cursor stays exact).
fn siem(args: &SiemArgs) -> ExitCode {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // The signal handler lives on a small runtime of its own; the follower
    // itself is blocking.
    let _signals = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(serve::shutdown_signal());
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    match cairn_ledger::siem::cli::run(args, &stop) {
        Ok(t) => {
            outln!(
                "siem: {} entries verified, {} receipts delivered, next index {}{}",
                t.entries,
                t.delivered,
                t.next,
                if t.rejected > 0 {
                    format!(", {} rejected by the collector", t.rejected)
                } else {
                    String::new()
                }
            );
            ExitCode::SUCCESS
        }
        Err(RunError::Usage(msg)) => {
            eprintln!("cairn-ledger siem: {msg}");
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("cairn-ledger siem: {e}");
            ExitCode::from(1)
        }
    }
}

/// The log's public key for an offline check: `DIR/log.vkey`, or the
/// public half of `DIR/log.key` when only that is there.
fn log_public_key(dir: &std::path::Path) -> Result<cairn_api::keys::VerifierKey, Fail> {
    let public = dir.join(keyfile::LOG_VKEY_FILE);
    if public.exists() {
        return Ok(keyfile::read_vkey_arg(&format!("@{}", public.display()))?);
    }
    Ok(keyfile::read_key(&dir.join(keyfile::LOG_KEY_FILE))?.verifier())
}

/// The query index beside the database, open for reading, when there is
/// one that fsck can read without writing. One that was not closed
/// cleanly is not checked (the ledger recovers it when it starts, and
/// derives again what it lost); one that cannot be read is an error.
fn query_index_for_fsck(dir: &std::path::Path) -> Result<Option<QueryIndex>, Fail> {
    let path = query_index::path_for(&dir.join(DB_FILE));
    if !path.exists() {
        return Ok(None);
    }
    match QueryIndex::open_read_only(&path) {
        Ok(ix) => Ok(Some(ix)),
        Err(StoreError::NeedsRecovery(_)) => {
            eprintln!(
                "cairn-ledger fsck: {} was not closed cleanly and is not checked: `cairn-ledger recover` or a \
                 start recovers it",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(Fail(format!(
            "{}: {e} (the query index is derived from the entries: remove it and the ledger rebuilds it when it starts)",
            path.display()
        ))),
    }
}

/// Print a JSON result on stdout.
fn print_json(v: &serde_json::Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.log.init("info");
    if !matches!(cli.command, Command::Serve(_)) {
        // The offline commands turn a panic inside the storage library (a
        // damaged page) into a reported corruption (store::redb_store); its
        // default message would only repeat it less clearly.
        std::panic::set_hook(Box::new(|info| tracing::debug!(%info, "caught panic")));
    }
    let result = match cli.command {
        Command::Export {
            data_dir,
            out,
            from,
            json,
        } => (|| {
            let key = log_public_key(&data_dir)?;
            let store = RedbStore::open_read_only(&data_dir.join(DB_FILE))?;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .map_err(|e| Fail(format!("{}: {e}", out.display())))?;
            let mut w = std::io::BufWriter::new(f);
            let mut io_error = None;
            let total = store.size()?.saturating_sub(from);
            let mut progress = Progress::new("export", "entries", Some(total), json);
            let n = cairn_ledger::export::export_with_progress(
                &store,
                key.name(),
                from,
                |chunk| match w.write_all(&chunk) {
                    Ok(()) => true,
                    Err(e) => {
                        io_error = Some(e);
                        false
                    }
                },
                |done, _| progress.set(done),
            )?;
            progress.finish();
            if let Some(e) = io_error {
                return Err(Fail(format!("{}: {e}", out.display())));
            }
            w.flush()?;
            w.get_ref().sync_all()?;
            if json {
                print_json(&serde_json::json!({
                    "command": "export",
                    "from": from,
                    "entries": n,
                    "out": out.display().to_string(),
                }));
            } else {
                outln!("exported {n} entries to {}", out.display());
            }
            Ok(())
        })(),
        Command::Recover { data_dir } => (|| {
            let path = data_dir.join(DB_FILE);
            if !path.exists() {
                return Err(Fail(format!("{}: no database", path.display())));
            }
            let store = RedbStore::open(&path)?;
            let size = store.size()?;
            drop(store);
            outln!("recovered {}: {size} entries; run fsck to check it", path.display());
            let index = query_index::path_for(&path);
            if index.exists() {
                let ix = QueryIndex::open_or_rebuild(&index)?;
                outln!("recovered {}: it covers {} entries", index.display(), ix.indexed());
            }
            Ok(())
        })(),
        Command::ExportTiles { data_dir, out, json } => (|| {
            let store = RedbStore::open_read_only(&data_dir.join(DB_FILE))?;
            let mut progress = Progress::new("export-tiles", "entries", Some(store.size()?), json);
            let w = cairn_ledger::export_tiles::export_tiles(&store, &out, |done| progress.set(done))
                .map_err(|e| Fail(e.to_string()))?;
            progress.finish();
            if json {
                print_json(&serde_json::json!({
                    "command": "export-tiles",
                    "size": w.size,
                    "hash_tiles": w.hash_tiles,
                    "entry_bundles": w.entry_bundles,
                    "out": out.display().to_string(),
                }));
            } else {
                outln!(
                    "wrote the tiles of a tree of {} entries ({} hash tiles, {} entry bundles) and its checkpoint to {}",
                    w.size,
                    w.hash_tiles,
                    w.entry_bundles,
                    out.display()
                );
            }
            Ok(())
        })(),
        Command::Fsck {
            data_dir,
            database,
            json,
        } => (|| {
            let key = log_public_key(&data_dir)?;
            let store: Box<dyn cairn_ledger::store::Store> = match &database {
                Some(db) => Box::new(cairn_ledger::store::PgStore::open_read_only(db)?),
                None => Box::new(RedbStore::open_read_only(&data_dir.join(DB_FILE))?),
            };
            let total = store.size()?;
            let mut progress = Progress::new("fsck", "entries", Some(total), json);
            let index = query_index_for_fsck(&data_dir)?;
            let rep = cairn_ledger::fsck::fsck_with_progress(store.as_ref(), index.as_ref(), &key, |done, _| {
                progress.set(done)
            });
            progress.finish();
            let rep = rep?;
            if json {
                print_json(&serde_json::json!({
                    "command": "fsck",
                    "valid": true,
                    "exit_code": 0,
                    "entries": rep.entries,
                    "tree_nodes": rep.nodes,
                    "checkpoints": rep.checkpoints,
                    "leaf_index": rep.leaf_index,
                    "idempotency_index": rep.idempotency_index,
                    "key_events": rep.key_events,
                    "bundles": rep.bundles,
                    "query_index_rows": rep.query_index.map(|q| q.0),
                    "query_index_entries": rep.query_index.map(|q| q.1),
                }));
                return Ok(());
            }
            outln!(
                "fsck: ok: {} entries, {} tree nodes, {} checkpoints consistent; indexes re-derived and equal \
                 ({} leaf hashes, {} idempotency keys, {} key events, {} bundles)",
                rep.entries,
                rep.nodes,
                rep.checkpoints,
                rep.leaf_index,
                rep.idempotency_index,
                rep.key_events,
                rep.bundles
            );
            match rep.query_index {
                Some((rows, entries)) => outln!(
                    "fsck: the query index covers {entries} of {} entries; its {rows} rows re-derived and equal",
                    rep.entries
                ),
                None => outln!("fsck: the query index was not checked"),
            }
            Ok(())
        })(),
        Command::Keygen {
            name,
            cosignature,
            out,
            json,
        } => (|| {
            let key_type = if cosignature {
                KeyType::Cosignature
            } else {
                KeyType::Ed25519
            };
            let k = match new_key(&name, key_type) {
                Ok(k) => k,
                // A name no key can have is a usage error.
                Err(e @ keyfile::KeyFileError::Key { .. }) => {
                    eprintln!("cairn-ledger keygen: {e}");
                    std::process::exit(4);
                }
                Err(e) => return Err(e.into()),
            };
            write_secret(&out, &k.to_private_string())?;
            if json {
                print_json(&serde_json::json!({
                    "command": "keygen",
                    "name": k.name(),
                    "key_ref": k.verifier().key_ref(),
                    "verifier_key": k.verifier().to_string(),
                    "out": out.display().to_string(),
                }));
            } else {
                outln!("{}", k.verifier());
            }
            Ok(())
        })(),
        Command::Siem(args) => return siem(&args),
        Command::Serve(args) => match args.resolve() {
            Err(Fail(msg)) => {
                // A configuration the ledger cannot run with is a usage error.
                eprintln!("cairn-ledger: {msg}");
                return ExitCode::from(4);
            }
            Ok(config) => {
                let served = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                    Ok(rt) => rt.block_on(serve::serve(config, serve::shutdown_signal())),
                    Err(e) => Err(serve::ServeError::Io(e)),
                };
                return match served {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("cairn-ledger: {e}");
                        ExitCode::from(e.exit_code())
                    }
                };
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("cairn-ledger: {msg}");
            ExitCode::from(1)
        }
    }
}
