//! Processes the suite runs: the release binaries, a served ledger whose
//! CPU time and peak RSS can be read, and commands timed by GNU time.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The admin credential of every ledger the suite starts.
pub const ADMIN_TOKEN: &str = "bench";

/// The release binaries under test.
#[derive(Clone)]
pub struct Bins {
    pub ledger: PathBuf,
    /// cairn-tools (load, populate, read-load).
    pub tools: PathBuf,
    pub verify: PathBuf,
    pub witness: PathBuf,
}

/// Build the release binaries.
pub fn build(root: &Path) -> Result<Bins, String> {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    build_into(root, &dir)
}

/// Build the release binaries of the tree at `root` into the target
/// directory `dir`.
pub fn build_into(root: &Path, dir: &Path) -> Result<Bins, String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", dir)
        .args([
            "build",
            "--quiet",
            "--profile",
            "profiling",
            "-p",
            "cairn-ledger",
            "-p",
            "cairn-tools",
            "-p",
            "cairn-verify",
            "-p",
            "cairn-witness",
            "-p",
            "cairn-gate-server",
        ])
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build --profile profiling failed".into());
    }
    let bin = |n: &str| dir.join("profiling").join(n);
    Ok(Bins {
        ledger: bin("cairn-ledger"),
        tools: bin("cairn-tools"),
        verify: bin("cairn-verify"),
        witness: bin("cairn-witness"),
    })
}

/// Run a command to completion; its stdout, or an error with the end of its stderr.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(format!("{cmd:?} exited with {}: {tail}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Install Debian packages (as root, else with sudo) when a tool is missing.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let root = output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
    let cmd = |args: &[&str]| {
        let mut c = if root {
            Command::new(args[0])
        } else {
            Command::new("sudo")
        };
        if !root {
            c.arg(args[0]);
        }
        c.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        output(&mut c).map(|_| ())
    };
    eprintln!("bench: installing {} from Debian's packages", packages.join(", "));
    cmd(&["apt-get", "update", "-qq"])?;
    let mut args = vec!["apt-get", "install", "-y", "-qq"];
    args.extend_from_slice(packages);
    cmd(&args)
}

/// GNU time, installed when missing.
fn gnu_time() -> Result<&'static str, String> {
    const TIME: &str = "/usr/bin/time";
    if !Path::new(TIME).exists() {
        apt_install(&["time"])?;
    }
    Ok(TIME)
}

/// A command run under GNU time: its stdout, wall seconds and peak RSS in KiB.
pub fn timed(program: &Path, args: &[&str], scratch: &Path) -> Result<(String, f64, u64), String> {
    let report = scratch.join("time.out");
    let out = output(
        Command::new(gnu_time()?)
            .arg("-o")
            .arg(&report)
            .args(["-f", "%e %M"])
            .arg(program)
            .args(args),
    )?;
    let text = std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    let mut f = text.split_whitespace();
    let secs = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("GNU time: no elapsed time")?;
    let rss = f.next().and_then(|s| s.parse().ok()).ok_or("GNU time: no peak RSS")?;
    Ok((out, secs, rss))
}

/// Clock ticks per second of /proc/PID/stat.
pub fn clock_ticks() -> f64 {
    output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `cairn-ledger serve` child on a loopback port.
pub struct Served {
    child: Child,
    pub url: String,
    /// The log's verifier key file (`DATA_DIR/log.vkey`), which the load
    /// generator checks every acknowledgement against.
    pub log_vkey: PathBuf,
}

impl Served {
    /// Serve `data_dir`, with `authority` (a vkey file) when given.
    pub fn start(bins: &Bins, data_dir: &Path, authority: Option<&Path>) -> Result<Self, String> {
        Self::start_with(bins, data_dir, authority, &[])
    }

    /// [`Served::start`] with more flags.
    pub fn start_with(
        bins: &Bins,
        data_dir: &Path,
        authority: Option<&Path>,
        extra: &[String],
    ) -> Result<Self, String> {
        let mut cmd = Command::new(&bins.ledger);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .args(["--listen", "127.0.0.1:0"])
            .env("CAIRN_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(a) = authority {
            cmd.arg("--authority").arg(format!("@{}", a.display()));
        }
        let mut child = cmd.spawn().map_err(|e| format!("cairn-ledger serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("cairn-ledger serve: no stdout")?;
        // Keep the last lines the server writes to stderr, for the error below.
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        if let Some(stderr) = child.stderr.take() {
            let errors = errors.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut e) = errors.lock() {
                        e.push(line);
                        let n = e.len();
                        e.drain(..n.saturating_sub(5));
                    }
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => Ok(Served {
                child,
                url,
                log_vkey: data_dir.join("log.vkey"),
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                let said = errors.lock().map(|e| e.join("\n")).unwrap_or_default();
                Err(format!(
                    "cairn-ledger serve --data-dir {} did not start: {said}",
                    data_dir.display()
                ))
            }
        }
    }

    /// Wait until the served ledger's query index covers the whole log (a
    /// ledger written before the index had its own file derives it when it
    /// starts; reads measured meanwhile would measure that too), at most
    /// `timeout`; how long it took.
    pub fn wait_indexed(&self, timeout: Duration) -> Result<Duration, String> {
        let http = cairn_gate::client::Http::new(&self.url);
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            let (status, body) = http
                .get("/metrics", 1 << 20, Duration::from_secs(10))
                .map_err(|e| format!("{}/metrics: {e}", self.url))?;
            let text = String::from_utf8_lossy(&body);
            let value = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
            };
            if let (200, Some(indexed), Some(size)) =
                (status, value("cairn_query_index_entries"), value("cairn_tree_size"))
            {
                if indexed >= size {
                    return Ok(started.elapsed());
                }
                if !said {
                    eprintln!("bench: waiting for the query index ({indexed} of {size} entries)");
                    said = true;
                }
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "the query index of {} did not catch up within {} s",
                    self.url,
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn proc_file(&self, name: &str) -> Result<String, String> {
        let p = format!("/proc/{}/{name}", self.child.id());
        std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))
    }

    /// User + system CPU ticks the server has used so far.
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        let stat = self.proc_file("stat")?;
        // Fields after the command name (which may hold spaces): state is
        // field 3, utime 14 and stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad /proc stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).ok_or("bad /proc stat");
        Ok(n(11)? + n(12)?)
    }

    /// The server's peak resident set so far, in KiB.
    pub fn peak_rss_kb(&self) -> Result<u64, String> {
        self.proc_file("status")?
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| "no VmHWM in /proc status".into())
    }
}

/// How long a served ledger has to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(120);

impl Drop for Served {
    /// Stop it as an operator would (SIGTERM): it closes its databases
    /// cleanly, so a ledger at scale kept for the next run opens without
    /// recovery. SIGKILL only if it has not stopped after [`STOP_GRACE`].
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        if Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success())
        {
            let deadline = std::time::Instant::now() + STOP_GRACE;
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("bench: cairn-ledger serve (pid {pid}) did not stop within {STOP_GRACE:?}; killing it");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
