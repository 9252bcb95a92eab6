//! Repository tooling.
//!
//! `cargo run -p xtask -- testvectors` regenerates `testvectors/`;
//! `cargo run -p xtask -- testvectors --check` fails (exit 1) when the files
//! on disk differ from what the generator writes, listing the differences.
//! `cargo run -p xtask -- fuzz-seeds` seeds `fuzz/corpus/` from the vectors.
//! `cargo run --release -p xtask -- machine-limits [DIR]` measures the
//! machine's limits; `cargo run --release -p xtask -- bench` (`bench/run`)
//! runs the performance suite and writes docs/benchmarks.md.

mod bench;
mod limits;
mod vectors;
mod vectors_audit_files;
mod vectors_ed25519;
mod vectors_export;
mod vectors_keys;
mod vectors_receipt_rules;
mod vectors_rules;
mod vectors_tiles;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values always serialise");
    s.push('\n');
    s
}

fn on_disk(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(kinds) = std::fs::read_dir(dir) else { return out };
    for kind in kinds.flatten() {
        let Ok(files) = std::fs::read_dir(kind.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "json") {
                let name = format!(
                    "{}/{}",
                    kind.file_name().to_string_lossy(),
                    p.file_stem().unwrap_or_default().to_string_lossy()
                );
                out.insert(name, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

fn testvectors(check: bool) -> ExitCode {
    let dir = root().join("testvectors");
    let want: BTreeMap<String, String> = vectors::all().into_iter().map(|(n, v)| (n, render(&v))).collect();
    let have = on_disk(&dir);
    if check {
        let mut diffs = Vec::new();
        for (name, text) in &want {
            match have.get(name) {
                None => diffs.push(format!("missing: {name}.json")),
                Some(t) if t != text => diffs.push(format!("differs: {name}.json")),
                _ => {}
            }
        }
        diffs.extend(
            have.keys()
                .filter(|n| !want.contains_key(*n))
                .map(|n| format!("stale: {n}.json")),
        );
        if diffs.is_empty() {
            println!("testvectors: {} cases, regeneration changes nothing", want.len());
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "testvectors/ is out of date ({} differences); run `cargo run -p xtask -- testvectors`:",
            diffs.len()
        );
        for d in diffs.iter().take(50) {
            eprintln!("  {d}");
        }
        return ExitCode::FAILURE;
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        let _ = std::fs::remove_file(dir.join(format!("{name}.json")));
    }
    for (name, text) in &want {
        let path = dir.join(format!("{name}.json"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create testvectors directory");
        }
        std::fs::write(&path, text).expect("write test vector");
    }
    println!("testvectors: wrote {} cases to {}", want.len(), dir.display());
    ExitCode::SUCCESS
}

/// Seed `fuzz/corpus/<target>/` from the test vectors: the valid and the
/// invalid inputs of each decoder.
fn fuzz_seeds() -> ExitCode {
    let corpus = root().join("fuzz/corpus");
    let mut written = 0;
    let mut put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus directory");
        std::fs::write(dir.join(name.replace('/', "-")), bytes).expect("write seed");
        written += 1;
    };
    for (name, v) in vectors::all() {
        let hex_of = |k: &str| v[k].as_str().and_then(|h| hex::decode(h).ok());
        let text_of = |k: &str| v[k].as_str().map(|t| t.as_bytes().to_vec());
        if let Some(b) = hex_of("payload_cbor") {
            put("receipt", &name, &b);
            put("view_differential", &name, &b);
        }
        if let Some(b) = hex_of("cose_sign1") {
            put("cose", &name, &b);
            // The receipts route (the first byte picks the route).
            put("http_bodies", &name, &[&[0u8][..], &b].concat());
        }
        if let Some(b) = hex_of("entry_cbor") {
            put("entry", &name, &b);
        }
        if let Some(b) = hex_of("cbor") {
            put("cbor", &name, &b);
        }
        if let Some(b) = text_of("note") {
            put("note", &name, &b);
        }
        if let Some(b) = text_of("tlog_proof") {
            put("tlog_proof", &name, &b);
        }
        if let Some(b) = hex_of("bundle_cbor") {
            put("bundle", &name, &b);
        }
        for k in ["vkey", "gate_vkey", "log_vkey"] {
            if let Some(b) = text_of(k) {
                put("keys", &format!("{name}-{k}"), &b);
            }
        }
    }
    // An export stream of the entries above, with one checkpoint, split
    // every 7 bytes (the first byte of an export seed is the push size).
    let mut stream = vec![7u8];
    stream.extend(
        cairn_api::export::ExportItem::Header {
            origin: "log.example/cairn".into(),
            from: 0,
        }
        .encode(),
    );
    let mut n = 0;
    for (_, v) in vectors::all() {
        if let Some(b) = v["entry_cbor"].as_str().and_then(|h| hex::decode(h).ok()) {
            stream.extend(cairn_api::export::ExportItem::Entry { index: n, bytes: b }.encode());
            n += 1;
        }
    }
    stream.extend(
        cairn_api::export::ExportItem::Checkpoint {
            size: n,
            note: format!("log.example/cairn\n{n}\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"),
        }
        .encode(),
    );
    put("export", "entries", &stream);
    for scenario in cairn_tools::scenarios::SCENARIOS {
        let path = root()
            .join("examples/policies")
            .join(scenario)
            .join(cairn_api::policy::registry::CAIRN_RULES.name())
            .join(cairn_api::policy::rules::RULES_TOML);
        if let Ok(b) = std::fs::read(&path) {
            put("rules", &format!("{scenario}-rules.toml"), &b);
        }
    }
    println!("fuzz-seeds: wrote {written} seeds under {}", corpus.display());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["testvectors"] => testvectors(false),
        ["testvectors", "--check"] => testvectors(true),
        ["fuzz-seeds"] => fuzz_seeds(),
        ["machine-limits"] => limits::run(&std::env::temp_dir()),
        ["machine-limits", dir] => limits::run(std::path::Path::new(dir)),
        ["bench", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
            bench::run(&root(), &rest)
        }
        _ => {
            eprintln!(
                "usage: cargo run -p xtask -- testvectors [--check] | fuzz-seeds | machine-limits [DIR] | bench [--help]"
            );
            ExitCode::from(4)
        }
    }
}
