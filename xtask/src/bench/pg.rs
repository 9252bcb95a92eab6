//! PostgreSQL, the baseline: Debian's server (installed when missing) on
//! loopback, `synchronous_commit=on` and `fsync=on`, one table holding the
//! same receipt bytes with the indexes cairn keeps, one row per
//! transaction, driven by pgbench. Stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::procs::{apt_install, output};

const PORT: u16 = 55432;

/// A running PostgreSQL cluster of the suite's own.
pub struct Pg {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

fn find_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|d| d.path().join("bin"))
        .filter(|b| b.join("pgbench").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

impl Pg {
    /// Install (if needed), initialise, configure and start a cluster in a
    /// fresh directory under `tmp`, and create the receipts table.
    pub fn start(tmp: &Path) -> Result<Pg, String> {
        let bin = match find_bin() {
            Some(b) => b,
            None => {
                apt_install(&["postgresql"])?;
                find_bin().ok_or("PostgreSQL installed but no /usr/lib/postgresql/*/bin/pgbench")?
            }
        };
        let as_postgres = output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
        let dir = tmp.join(format!("cairn-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pg = Pg { bin, dir, as_postgres };
        if as_postgres {
            output(Command::new("chown").arg("postgres").arg(&pg.dir))?;
        }
        pg.as_owner(&format!(
            "{}/initdb -D {}/data -A trust >/dev/null",
            pg.bin.display(),
            pg.dir.display()
        ))?;
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {PORT}\nunix_socket_directories = '{}'\nsynchronous_commit = on\nfsync = on\nmax_connections = 300\nshared_buffers = 256MB\n",
            pg.dir.display()
        );
        let conf_path = pg.dir.join("data/postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        pg.as_owner(&format!(
            "{}/pg_ctl -D {d}/data -l {d}/log -w start >/dev/null",
            pg.bin.display(),
            d = pg.dir.display()
        ))?;
        pg.psql(
            "CREATE TABLE receipts (
               idx bigserial PRIMARY KEY, leaf bytea NOT NULL UNIQUE, gate text NOT NULL, idem text NOT NULL,
               subject text, surface text, action text, target text, decision text, decided_at timestamptz,
               break_glass boolean NOT NULL, body bytea NOT NULL, UNIQUE (gate, idem));
             CREATE INDEX ON receipts (subject); CREATE INDEX ON receipts (surface);
             CREATE INDEX ON receipts (action); CREATE INDEX ON receipts (target);
             CREATE INDEX ON receipts (decision); CREATE INDEX ON receipts (decided_at);
             CREATE INDEX ON receipts (idx) WHERE break_glass;",
        )?;
        Ok(pg)
    }

    fn as_owner(&self, script: &str) -> Result<String, String> {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("su");
            c.args(["postgres", "-s", "/bin/bash", "-c", script]);
            c
        } else {
            let mut c = Command::new("bash");
            c.args(["-c", script]);
            c
        };
        output(&mut cmd)
    }

    fn user(&self) -> String {
        if self.as_postgres {
            "postgres".into()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "postgres".into())
        }
    }

    fn psql(&self, sql: &str) -> Result<String, String> {
        output(Command::new(self.bin.join("psql")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &PORT.to_string(),
            "-U",
            &self.user(),
            "-d",
            "postgres",
            "-q",
            "-c",
            sql,
        ]))
    }

    /// Connection parameters for a client of the cluster (`cairn-ledger
    /// serve --database`).
    pub fn params(&self) -> String {
        format!("host=127.0.0.1 port={PORT} user={} dbname=postgres", self.user())
    }

    /// `postgres --version`.
    pub fn version(&self) -> String {
        output(Command::new(self.bin.join("postgres")).arg("--version"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| "PostgreSQL (version unknown)".into())
    }

    /// One-row durable inserts of `body` at `concurrency` for `seconds`:
    /// rows/s, p50 and p99 latency in ms.
    pub fn insert_rate(&self, body: &[u8], concurrency: usize, seconds: u64) -> Result<(f64, f64, f64), String> {
        let run = self.dir.join(format!("run-{concurrency}"));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
        let script = format!(
            "\\set n random(1, 9000000000000)\n\
             INSERT INTO receipts (leaf, gate, idem, subject, surface, action, target, decision, decided_at, break_glass, body)\n\
             VALUES (decode(md5(:client_id::text || '-' || :n::text), 'hex'), 'gate.example/eks-proxy', :client_id::text || '-' || :n::text,\n\
             'agent:devops-helper', 'eks', 'delete_pod', 'staging:web', 'PERMIT', now(), false, decode('{}', 'hex'));\n",
            hex::encode(body)
        );
        std::fs::write(run.join("insert.sql"), script).map_err(|e| format!("insert.sql: {e}"))?;
        let out = output(
            Command::new(self.bin.join("pgbench"))
                .current_dir(&run)
                .args(["-h", "127.0.0.1", "-p", &PORT.to_string(), "-U", &self.user(), "-n"])
                .args(["-c", &concurrency.to_string(), "-j", "2", "-T", &seconds.to_string()])
                .args(["-f", "insert.sql", "-l", "--log-prefix", "lat", "postgres"]),
        )?;
        let tps = out
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
            .ok_or_else(|| format!("pgbench printed no tps: {out}"))?;
        // Per-transaction log: client, transaction, latency in µs, ...
        let mut lat = Vec::new();
        for f in std::fs::read_dir(&run).map_err(|e| e.to_string())?.flatten() {
            if f.file_name().to_string_lossy().starts_with("lat") {
                let text = std::fs::read_to_string(f.path()).map_err(|e| e.to_string())?;
                lat.extend(
                    text.lines()
                        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok()),
                );
            }
        }
        let _ = std::fs::remove_dir_all(&run);
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
                / 1e3
        };
        Ok((tps, pct(0.5), pct(0.99)))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self.as_owner(&format!(
            "{}/pg_ctl -D {}/data -m fast -w stop >/dev/null",
            self.bin.display(),
            self.dir.display()
        ));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
