//! A real full disk: `cairn-ledger serve` on a size-limited tmpfs (mounted
//! by the test, as root; skipped with a message where mounting is
//! refused), filled under load. Nothing acknowledged is lost, `/readyz`
//! says not ready while writes cannot be made durable, and writes resume
//! within seconds of space being freed, without a restart.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_api::examples;
use common::server::{http, populated, try_http};

/// A tmpfs of `size`, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(size: &str) -> Option<Mount> {
        let dir = std::env::temp_dir().join(format!("cairn-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

fn receipt(n: u64) -> Vec<u8> {
    common::receipt(
        n,
        &examples::gate_key(),
        common::now_ms(),
        &common::bundle("empty", b""),
        "full",
    )
}

#[test]
fn a_full_disk_loses_nothing_and_writes_resume_when_space_is_freed() {
    let Some(mount) = Mount::tmpfs("8m") else {
        eprintln!("skipped: mounting a tmpfs was refused (needs root and CAP_SYS_ADMIN)");
        return;
    };
    let data = mount.0.join("data");
    let server = populated(&data, 5);
    fill(&mount.0.join("filler"));
    // Under load on a full disk: every answer is 201 (durable) or 503.
    let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut refused = Vec::new();
    for n in 100..400 {
        let body = receipt(n);
        let (status, resp) = http(&server.addr, "POST", "/v1/receipts", &body, false);
        match status {
            201 => {
                let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
                acked.push((ack["index"].as_u64().unwrap(), body));
            }
            503 => refused.push(body),
            other => panic!("HTTP {other}: {}", String::from_utf8_lossy(&resp)),
        }
    }
    assert!(
        !refused.is_empty(),
        "the disk never filled ({} acknowledged)",
        acked.len()
    );
    assert_eq!(
        http(&server.addr, "GET", "/readyz", b"", false).0,
        503,
        "ready on a full disk"
    );
    // Space is freed: ready and writing again within seconds, no restart.
    std::fs::remove_file(mount.0.join("filler")).unwrap();
    let freed = Instant::now();
    while try_http(&server.addr, "GET", "/readyz", b"", false).map(|r| r.0) != Some(200) {
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "not ready 10 s after space was freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let resumed = freed.elapsed();
    for body in &refused {
        let (status, _) = http(&server.addr, "POST", "/v1/receipts", body, false);
        assert!(status == 201 || status == 200, "after space was freed: HTTP {status}");
    }
    // Everything acknowledged is there, at its index.
    for (index, body) in &acked {
        let (status, resp) = http(&server.addr, "POST", "/v1/receipts", body, false);
        assert_eq!(status, 200);
        let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        assert_eq!(ack["index"].as_u64(), Some(*index));
    }
    eprintln!(
        "{} acknowledged before the disk filled, {} refused 503 while full, writes resumed {resumed:?} after space was freed, 0 lost",
        acked.len(),
        refused.len()
    );
    drop(server);
    drop(mount);
}
