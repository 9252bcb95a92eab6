//! Logs people can use: `tracing` events with structured fields, written
//! to stderr as text (for a terminal) or as one JSON object per line (for
//! a log pipeline), chosen by `--log-format`. The level comes from
//! `CAIRN_LOG` (an `EnvFilter` directive such as `info` or
//! `cairn_ledger=debug`), else the program's default.

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "CAIRN_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

/// Install the global subscriber. `default` is the filter when `CAIRN_LOG`
/// is unset or invalid. Calling it twice keeps the first (tests).
pub fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The logging flag every cairn program takes.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// How log lines are written on stderr (level: CAIRN_LOG, e.g. info or debug).
    #[arg(long, global = true, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// [`init`] with this format.
    pub fn init(&self, default: &str) {
        init(self.log_format, default);
    }
}
