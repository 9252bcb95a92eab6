//! `cairn-interop URL LOG_VKEY_FILE PROOFS_DIR`: Cloudflare's `signed_note`
//! and `tlog_tiles` crates (C2SP signed-note, tlog-checkpoint, RFC 6962
//! proofs; not cairn's code) check a live cairn ledger:
//!
//! - every stored checkpoint verifies under the log key (`signed_note`),
//!   parses as a C2SP checkpoint (`tlog_tiles::Checkpoint`) and both
//!   re-serialise byte for byte;
//! - every inclusion proof of the latest checkpoint passes
//!   `tlog_tiles::check_record`, every consistency proof between
//!   consecutive checkpoints `tlog_tiles::check_tree`;
//! - the C2SP tiles the ledger serves (`/tile/<L>/<N>[.p/<W>]`) are read by
//!   `tlog_tiles::TileHashReader`, which authenticates every tile against
//!   the checkpoint's root; inclusion and consistency proofs built by
//!   `tlog_tiles::prove_record` / `prove_tree` from those tiles pass
//!   `check_record` / `check_tree`, and each entry bundle's entries hash to
//!   the level-0 tile;
//! - every tlog-proof file in PROOFS_DIR (with its `.cose` body beside it):
//!   the checkpoint note verifies and re-serialises byte for byte, and the
//!   proof passes `check_record` for the entry rebuilt from `extra` and the
//!   body.
//!
//! Prints `N passed, M failed`; exits 1 on any failure, 2 when it cannot run.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{
    Checkpoint, Hash, Tile, TileHashReader, TileReader, check_record, check_tree, prove_record, prove_tree, record_hash,
};

/// `tlog_tiles`' tile reader over a ledger's `/tile/...`. The crate names
/// tiles Go-style, with the height in the path (`tile/8/0/000`); C2SP's
/// paths have none (`tile/0/000`), which is the only adaptation here.
struct HttpTiles(String);

impl HttpTiles {
    fn c2sp_path(tile: &Tile) -> String {
        tile.path()
            .replacen("tile/8/data/", "tile/entries/", 1)
            .replacen("tile/8/", "tile/", 1)
    }
}

impl TileReader for HttpTiles {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| get(&format!("{}/{}", self.0, Self::c2sp_path(t))).map_err(|_| tlog_tiles::Error::InvalidTile))
            .collect()
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// Entries of a C2SP entry bundle (big-endian u16 length before each).
fn bundle_entries(mut b: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (len, rest) = b.split_first_chunk::<2>().ok_or("truncated length")?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err("truncated entry".into());
        }
        out.push(&rest[..len]);
        b = &rest[len..];
    }
    Ok(out)
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn check(&mut self, result: Result<(), String>, what: &str) {
        match result {
            Ok(()) => self.passed += 1,
            Err(e) => {
                self.failed += 1;
                println!("  FAILED (rust): {what}: {e}");
            }
        }
    }
}

fn get(url: &str) -> Result<Vec<u8>, String> {
    let mut resp = ureq::get(url).call().map_err(|e| format!("GET {url}: {e}"))?;
    resp.body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .map_err(|e| format!("GET {url}: {e}"))
}

fn json(url: &str) -> Result<serde_json::Value, String> {
    serde_json::from_slice(&get(url)?).map_err(|e| format!("GET {url}: {e}"))
}

/// Verify a checkpoint note with `signed_note`, parse it with `tlog_tiles`,
/// and check that both write back the same bytes.
fn open(text: &[u8], verifiers: &VerifierList) -> Result<Checkpoint, String> {
    let note = Note::from_bytes(text).map_err(|e| format!("signed_note: {e}"))?;
    note.verify(verifiers).map_err(|e| format!("signed_note: {e}"))?;
    if note.to_bytes() != text {
        return Err("signed_note does not re-serialise the note byte for byte".into());
    }
    let cp = Checkpoint::from_bytes(note.text()).map_err(|e| format!("tlog_tiles: {e}"))?;
    if cp.to_bytes() != note.text() {
        return Err("tlog_tiles does not re-serialise the checkpoint byte for byte".into());
    }
    Ok(cp)
}

fn hashes(v: &serde_json::Value) -> Result<Vec<Hash>, String> {
    v.as_array()
        .ok_or("proof is not a list")?
        .iter()
        .map(|h| {
            let raw = hex::decode(h.as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
            <[u8; 32]>::try_from(raw.as_slice())
                .map(Hash)
                .map_err(|_| "not 32 bytes".to_string())
        })
        .collect()
}

/// The entry `[type, integrated_at, body]` from a tlog-proof's `extra`
/// (the CBOR array `[type, integrated_at]`) and the body, byte by byte.
fn entry(extra: &[u8], body: &[u8]) -> Result<Vec<u8>, String> {
    let rest = extra
        .strip_prefix(&[0x82])
        .ok_or("extra is not a 2-element CBOR array")?;
    let mut e = vec![0x83];
    e.extend_from_slice(rest);
    let n = body.len();
    match n {
        0..=23 => e.push(0x40 | n as u8),
        24..=0xff => e.extend_from_slice(&[0x58, n as u8]),
        0x100..=0xffff => {
            e.push(0x59);
            e.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            e.push(0x5a);
            e.extend_from_slice(&u32::try_from(n).map_err(|_| "body too large")?.to_be_bytes());
        }
    }
    e.extend_from_slice(body);
    Ok(e)
}

/// Check one tlog-proof file (C2SP tlog-proof@v1) and its body.
fn tlog_proof(text: &[u8], body: &[u8], verifiers: &VerifierList) -> Result<(), String> {
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    let (head, note) = text.split_once("\n\n").ok_or("no blank line before the checkpoint")?;
    let mut lines = head.lines();
    if lines.next() != Some("c2sp.org/tlog-proof@v1") {
        return Err("first line is not c2sp.org/tlog-proof@v1".into());
    }
    let extra = lines
        .next()
        .and_then(|l| l.strip_prefix("extra "))
        .ok_or("no extra line")?;
    let index: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("index "))
        .and_then(|i| i.parse().ok())
        .ok_or("no index line")?;
    let proof = lines
        .map(|l| B64.decode(l).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).map(Hash))
        .collect::<Option<Vec<_>>>()
        .ok_or("a proof line is not a base64 hash")?;
    let cp = open(note.as_bytes(), verifiers)?;
    let extra = B64.decode(extra).map_err(|e| e.to_string())?;
    let leaf = record_hash(&entry(&extra, body)?);
    check_record(&proof, cp.size(), *cp.hash(), index, leaf).map_err(|e| format!("tlog_tiles: {e}"))
}

fn run(url: &str, vkey: &Path, proofs: &Path) -> Result<Tally, String> {
    let vkey = std::fs::read_to_string(vkey).map_err(|e| format!("{}: {e}", vkey.display()))?;
    let verifier = StandardVerifier::new(vkey.trim()).map_err(|e| format!("the log key: {e}"))?;
    let verifiers = VerifierList::new(vec![Box::new(verifier)]);
    let mut t = Tally::default();

    let latest = open(&get(&format!("{url}/v1/checkpoint"))?, &verifiers)?;
    let list = json(&format!("{url}/v1/checkpoints?from=1&to={}", latest.size()))?;
    let mut trees = Vec::new();
    for item in list["checkpoints"].as_array().ok_or("no checkpoints")? {
        let text = item["note"].as_str().unwrap_or_default();
        let r = open(text.as_bytes(), &verifiers);
        if let Ok(cp) = &r {
            trees.push((cp.size(), *cp.hash()));
        }
        t.check(r.map(|_| ()), "stored checkpoint");
    }
    let (n, root) = (latest.size(), *latest.hash());
    for i in 0..n {
        let leaf = record_hash(&get(&format!("{url}/v1/entries/{i}"))?);
        let p = json(&format!("{url}/v1/proofs/inclusion?index={i}&size={n}"))?;
        let r = hashes(&p["proof"])
            .and_then(|p| check_record(&p, n, root, i, leaf).map_err(|e| format!("tlog_tiles: {e}")));
        t.check(r, &format!("inclusion of {i} in {n}"));
    }
    for w in trees.windows(2) {
        let ((a, ra), (b, rb)) = (w[0], w[1]);
        let p = json(&format!("{url}/v1/proofs/consistency?from={a}&to={b}"))?;
        let r = hashes(&p["proof"]).and_then(|p| check_tree(&p, b, rb, a, ra).map_err(|e| format!("tlog_tiles: {e}")));
        t.check(r, &format!("consistency {a} -> {b}"));
    }
    // The tiles: authenticated against the checkpoint by tlog_tiles, and
    // proofs built from them.
    let tiles = HttpTiles(url.to_string());
    let reader = TileHashReader::new(n, root, &tiles);
    for i in 0..n {
        let r = prove_record(n, i, &reader)
            .and_then(|p| {
                let leaf =
                    record_hash(&get(&format!("{url}/v1/entries/{i}")).map_err(tlog_tiles::Error::InvalidInput)?);
                check_record(&p, n, root, i, leaf)
            })
            .map_err(|e| format!("tlog_tiles: {e}"));
        t.check(r, &format!("inclusion of {i} in {n} proven from tiles"));
    }
    for (a, ra) in &trees {
        if *a < n {
            let r = prove_tree(n, *a, &reader)
                .and_then(|p| check_tree(&p, n, root, *a, *ra))
                .map_err(|e| format!("tlog_tiles: {e}"));
            t.check(r, &format!("consistency {a} -> {n} proven from tiles"));
        }
    }
    for k in 0..n.div_ceil(256) {
        let w = (n - k * 256).min(256);
        let tile = Tile::new(8, 0, k, w as u32, false);
        let data = Tile::new(8, 0, k, w as u32, true);
        let r = (|| -> Result<(), String> {
            let bundle = get(&format!("{url}/{}", HttpTiles::c2sp_path(&data)))?;
            let hashes = tiles.read_tiles(&[tile]).map_err(|e| e.to_string())?.remove(0);
            let entries = bundle_entries(&bundle)?;
            if entries.len() as u64 != w {
                return Err(format!("{} entries in a bundle of width {w}", entries.len()));
            }
            for (j, e) in entries.iter().enumerate() {
                if record_hash(e).0 != hashes[j * 32..(j + 1) * 32] {
                    return Err(format!(
                        "entry {} does not hash to its level-0 tile hash",
                        k * 256 + j as u64
                    ));
                }
            }
            Ok(())
        })();
        t.check(r, &format!("entry bundle {k}"));
    }
    let mut files: Vec<_> = std::fs::read_dir(proofs)
        .map_err(|e| format!("{}: {e}", proofs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tlog-proof"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .tlog-proof files in {}", proofs.display()));
    }
    for f in files {
        let r = std::fs::read(&f)
            .and_then(|text| Ok((text, std::fs::read(f.with_extension("cose"))?)))
            .map_err(|e| e.to_string())
            .and_then(|(text, body)| tlog_proof(&text, &body, &verifiers));
        t.check(r, &f.display().to_string());
    }
    Ok(t)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, vkey, proofs] = args.as_slice() else {
        eprintln!("usage: cairn-interop URL LOG_VKEY_FILE PROOFS_DIR");
        return ExitCode::from(2);
    };
    match run(url.trim_end_matches('/'), Path::new(vkey), Path::new(proofs)) {
        Ok(t) => {
            println!(
                "rust (signed_note, tlog_tiles): {} passed, {} failed",
                t.passed, t.failed
            );
            if t.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cairn-interop: {e}");
            ExitCode::from(2)
        }
    }
}
