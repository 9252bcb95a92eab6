//! Logs people can use: `tracing` events with structured fields, written
//! to stderr as text (for a terminal) or as one JSON object per line (for
//! a log pipeline), chosen by `--log-format`. The level comes from
//! `CAIRN_LOG` (`error`, `warn`, `info`, `debug`, `trace` or `off`), else
//! the program's default.

use tracing_subscriber::filter::LevelFilter;

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

/// The level `CAIRN_LOG` names, else `default`, else `warn`.
pub fn level(default: &str) -> LevelFilter {
    let parse = |s: &str| s.trim().parse::<LevelFilter>().ok();
    std::env::var(LOG_ENV)
        .ok()
        .and_then(|v| parse(&v))
        .or_else(|| parse(default))
        .unwrap_or(LevelFilter::WARN)
}

/// Install the global subscriber. `default` is the level when `CAIRN_LOG`
/// is unset or not a level. Calling it twice keeps the first (tests).
pub fn init(format: LogFormat, default: &str) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level(default))
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
