//! `cairn-witness` killed with SIGKILL at arbitrary moments under
//! concurrent submissions: across restarts it never cosigns a size smaller
//! than one it already cosigned, and it never answers a cosignature it did
//! not persist.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_api::examples::TestLog;
use cairn_api::keys::{KeyType, SignerKey};
use cairn_api::witness::protocol::parse_size_body;

struct Running {
    child: Child,
    url: String,
}

fn start(dir: &std::path::Path, log: &TestLog) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-witness"))
        .args(["serve", "--listen", "127.0.0.1:0", "--key"])
        .arg(dir.join("witness.key"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--log")
        .arg(log.key.verifier().to_string())
        .env(cairn_host::log::LOG_ENV, "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the witness printed its address").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Running { child, url }
}

/// One submission: `Ok(true)` cosigned, `Ok(false)` refused with a size
/// (recorded in `seen`), `Err` the witness is gone.
fn submit(agent: &ureq::Agent, url: &str, body: Vec<u8>, seen: &AtomicU64) -> Result<bool, ()> {
    let resp = agent
        .post(&format!("{url}/add-checkpoint"))
        .send(&body[..])
        .map_err(|_| ())?;
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_vec().map_err(|_| ())?;
    match status {
        200 => Ok(true),
        409 => {
            seen.store(parse_size_body(&text).unwrap(), Ordering::SeqCst);
            Ok(false)
        }
        other => panic!("unexpected {other}: {}", String::from_utf8_lossy(&text)),
    }
}

#[test]
fn never_cosigns_below_what_it_cosigned_across_kill_9() {
    let dir = std::env::temp_dir().join(format!("cairn-witness-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = SignerKey::from_seed("witness.example/kill", KeyType::Cosignature, &[4; 32]).unwrap();
    cairn_host::keyfile::write_secret(&dir.join("witness.key"), &key.to_private_string()).unwrap();
    let mut log = TestLog::new("log.example/kill", 1);
    log.grow(2000, "k");
    let log = Arc::new(log);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    // The largest size any answer proved the witness cosigned.
    let cosigned_max = Arc::new(AtomicU64::new(0));
    let mut rounds = 0;
    let mut size = 1u64;
    while rounds < 6 {
        let w = start(&dir, &log);
        // After a restart the witness must know at least what it answered.
        let seen = AtomicU64::new(0);
        let _ = submit(&agent, &w.url, log.request(0, 1), &seen);
        let known = seen.load(Ordering::SeqCst);
        assert!(
            known >= cosigned_max.load(Ordering::SeqCst),
            "restart {rounds}: the witness knows {known}, it had cosigned {}",
            cosigned_max.load(Ordering::SeqCst)
        );
        // A checkpoint smaller than what it cosigned is never cosigned.
        if known > 1 {
            let r = agent
                .post(&format!("{}/add-checkpoint", w.url))
                .send(&log.request(known, known - 1)[..])
                .unwrap();
            assert_eq!(r.status().as_u16(), 400);
        }
        // Three clients race with growing checkpoints; the witness dies
        // under them.
        let stop = Arc::new(Mutex::new(false));
        let threads: Vec<_> = (0..3u64)
            .map(|t| {
                let (log, agent, url, max, stop) = (
                    log.clone(),
                    agent.clone(),
                    w.url.clone(),
                    cosigned_max.clone(),
                    stop.clone(),
                );
                let mut next = size + t;
                std::thread::spawn(move || {
                    let seen = AtomicU64::new(known);
                    while !*stop.lock().unwrap() && next < 2000 {
                        let old = seen.load(Ordering::SeqCst);
                        let target = next.max(old);
                        match submit(&agent, &url, log.request(old, target), &seen) {
                            Ok(true) => {
                                max.fetch_max(target, Ordering::SeqCst);
                                seen.store(target, Ordering::SeqCst);
                                next = target + 1 + t;
                            }
                            Ok(false) => {}
                            Err(()) => break,
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_millis(150 + 100 * rounds);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut w = w;
        w.child.kill().unwrap();
        w.child.wait().unwrap();
        *stop.lock().unwrap() = true;
        for t in threads {
            t.join().unwrap();
        }
        size = cosigned_max.load(Ordering::SeqCst) + 1;
        rounds += 1;
    }
    assert!(
        cosigned_max.load(Ordering::SeqCst) > 10,
        "the witness cosigned under load"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
