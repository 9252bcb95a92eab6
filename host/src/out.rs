//! Standard output for command-line programs: a reader that stops reading
//! (`cairn-gate policy hash ... | head -1`, `decide ... | true`) is a
//! normal end, not a panic. `println!` panics when stdout is a closed pipe
//! (Rust ignores SIGPIPE); [`outln!`](crate::outln) and
//! [`out!`](crate::out) stop writing instead, and the program ends with
//! the exit code of what it did.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `args` (and a newline when `newline`) to stdout. A closed pipe
/// stops all later output quietly; any other write error is said once on
/// stderr.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = std::io::stdout().lock();
    let r = o
        .write_fmt(args)
        .and_then(|()| if newline { o.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = r {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            drop(o);
            let _ = writeln!(std::io::stderr(), "cannot write to standard output: {e}");
        }
    }
}

/// Flush stdout (before a long pause, or before the process ends); a
/// closed pipe is not an error.
pub fn flush() {
    if !CLOSED.load(Ordering::Relaxed) && std::io::stdout().flush().is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `println!` that ends quietly on a closed stdout.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), true) };
}

/// `print!` that ends quietly on a closed stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), false) };
}
