//! `cairn-witness`: `keygen` makes the witness key; `serve` runs the
//! witness (see the library's documentation and `docs/operations.md`).
//!
//! Exit codes: 0 stopped cleanly, 1 the machine failed (storage, I/O),
//! 4 the configuration is unusable (nothing was created).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use cairn_api::keys::KeyType;
use cairn_host::keyfile;
use cairn_host::log::LogArgs;
use cairn_host::outln;
use cairn_witness::{State, Witness};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cairn-witness",
    version,
    about = "A C2SP tlog-witness: cosign a log's checkpoints, refuse its forks"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make a witness key (C2SP tlog-cosignature, type 0x04).
    Keygen {
        /// The witness's name, e.g. `witness.example/w1`.
        #[arg(long)]
        name: String,
        /// Where to write the private key (created 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve `POST /add-checkpoint`, `GET /logs`, `GET /forks`.
    Serve {
        /// The witness's private key file.
        #[arg(long, env = "CAIRN_WITNESS_KEY")]
        key: PathBuf,
        /// A log's verifier key (or `@FILE`); repeat for several logs.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        /// Where the cosigned checkpoints and fork evidence are kept.
        #[arg(long, env = "CAIRN_WITNESS_DATA_DIR")]
        data_dir: PathBuf,
        /// The address to listen on.
        #[arg(long, env = "CAIRN_WITNESS_LISTEN", default_value = "127.0.0.1:7381")]
        listen: SocketAddr,
    },
}

fn config_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("cairn-witness: {e}");
    ExitCode::from(4)
}

fn keygen(name: &str, out: &std::path::Path) -> ExitCode {
    let key = match keyfile::new_key(name, KeyType::Cosignature) {
        Ok(k) => k,
        Err(e) => return config_error(e),
    };
    if let Err(e) = keyfile::write_secret(out, &key.to_private_string()) {
        return config_error(e);
    }
    outln!("{}", key.verifier());
    ExitCode::SUCCESS
}

async fn serve(key: PathBuf, logs: Vec<String>, data_dir: PathBuf, listen: SocketAddr) -> ExitCode {
    let key = match keyfile::read_key(&key) {
        Ok(k) if k.key_type() == KeyType::Cosignature => k,
        Ok(k) => {
            return config_error(format!(
                "{} is not a cosignature (type 0x04) key: make one with cairn-witness keygen",
                k.name()
            ));
        }
        Err(e) => return config_error(e),
    };
    let mut log_keys = Vec::new();
    for l in &logs {
        match keyfile::read_vkey_arg(l) {
            Ok(k) if k.key_type() == KeyType::Ed25519 => log_keys.push(k),
            Ok(k) => return config_error(format!("--log {}: a log key is an Ed25519 (type 0x01) key", k.name())),
            Err(e) => return config_error(format!("--log: {e}")),
        }
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => return config_error(format!("cannot listen on {listen}: {e}")),
    };
    let state = match State::open(&data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cairn-witness: {e}");
            return ExitCode::from(1);
        }
    };
    let witness = Arc::new(Witness::new(key, log_keys, state));
    let addr = listener
        .local_addr()
        .map_or_else(|_| listen.to_string(), |a| a.to_string());
    outln!("witness key: {}", witness.verifier());
    outln!("listening on http://{addr}");
    cairn_host::out::flush();
    let app = cairn_witness::http::router(witness);
    match axum::serve(listener, app).with_graceful_shutdown(shutdown()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-witness: {e}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.log.init("info");
    let code = match cli.command {
        Command::Keygen { name, out } => keygen(&name, &out),
        Command::Serve {
            key,
            logs,
            data_dir,
            listen,
        } => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(serve(key, logs, data_dir, listen)),
            Err(e) => {
                eprintln!("cairn-witness: {e}");
                ExitCode::from(1)
            }
        },
    };
    cairn_host::out::flush();
    code
}
