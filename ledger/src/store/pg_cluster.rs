//! A PostgreSQL cluster of its own for a test: `initdb` in a temporary
//! directory, started on a Unix socket there, stopped (immediately) and
//! removed on drop. Debian's server binaries (`/usr/lib/postgresql/*/bin`,
//! or `CAIRN_PG_BIN`), run as `postgres` when the test runs as root
//! (`initdb` refuses root). `.ci/run` installs them; elsewhere a test
//! without them says so and is skipped, in CI it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// Server settings given at every start (`-c name=value ...`).
    settings: String,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("CAIRN_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl Cluster {
    /// Start one, or `None` (outside CI) when PostgreSQL is not installed.
    pub(crate) fn start(tag: &str) -> Option<Self> {
        Self::start_with(tag, "")
    }

    /// [`Cluster::start`] with server settings (`-c name=value ...`).
    pub(crate) fn start_with(tag: &str, settings: &str) -> Option<Self> {
        let c = Self::place(tag, settings)?;
        let data = c.dir.join("data");
        c.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "cairn",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        c.start_again();
        Some(c)
    }

    /// A streaming-replication standby of `primary`, started (a base
    /// backup of it with `standby.signal` and its connection to the
    /// primary, `pg_basebackup -R`).
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn standby_of(primary: &Cluster, tag: &str) -> Self {
        let c = Self::place(tag, "").expect("the primary's binaries are installed");
        let data = c.dir.join("data");
        c.run(
            "pg_basebackup",
            &[
                "-D",
                path(&data),
                "-R",
                "-h",
                path(&primary.dir),
                "-p",
                "5432",
                "-U",
                "cairn",
                "-X",
                "stream",
            ],
        );
        c.start_again();
        c
    }

    /// Promote a standby to primary (`pg_ctl promote`, waiting for it).
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn promote(&self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", path(&data), "-w", "promote"]);
    }

    /// Crash the cluster (`-m immediate`: no shutdown checkpoint, sessions
    /// cut, as a machine failing).
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn crash(&self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "-w", "stop"]);
    }

    /// Its own directory (the socket's), PostgreSQL's binaries, and whether
    /// they must run as `postgres`; nothing started.
    fn place(tag: &str, settings: &str) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var("CI").is_err(),
                "PostgreSQL's server binaries are not installed (.ci/run installs postgresql)"
            );
            eprintln!("skipped: PostgreSQL's server binaries are not installed");
            return None;
        };
        // SAFETY of the check: geteuid via `id -u` (no unsafe code here).
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let dir = std::env::temp_dir().join(format!("cairn-pg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = Cluster {
            dir,
            bin,
            as_postgres: root,
            settings: settings.to_owned(),
        };
        if root {
            assert!(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&c.dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        Some(c)
    }

    /// The socket directory (the `host` of a connection string).
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn host(&self) -> &Path {
        &self.dir
    }

    /// Start the (stopped) cluster again.
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn start_again(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p 5432 -k {} -c listen_addresses='' {}",
            self.dir.display(),
            self.settings
        );
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &["-D", path(&data), "-l", path(&log), "-o", &opts, "-w", "start"],
        );
    }

    /// Stop the cluster (`-m fast`: sessions are ended, what was committed
    /// stays).
    #[allow(dead_code)] // tests/failover.rs
    pub(crate) fn stop(&self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", path(&data), "-m", "fast", "-w", "stop"]);
    }

    /// Run one of PostgreSQL's tools as the cluster's owner.
    fn output(&self, tool: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.output(tool, args).unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The connection parameters.
    pub(crate) fn params(&self) -> String {
        format!("host={} port=5432 user=cairn dbname=postgres", self.dir.display())
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.output("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
