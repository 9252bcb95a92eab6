//! What every cairn command line does the same way.

use std::process::ExitCode;

/// Exit code of a usage error (bad flags, a configuration the program
/// cannot run with), the same in every cairn program.
pub const EXIT_USAGE: u8 = 4;

/// Parse the command line. `--help` and `--version` print and give exit
/// 0; a usage error prints clap's message and gives [`EXIT_USAGE`].
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| {
        let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
        let _ = e.print();
        ExitCode::from(code)
    })
}
