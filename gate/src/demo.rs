//! `cairn-gate demo`.

use std::path::PathBuf;

use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole, KeyStatement};
use cairn_api::examples::{self, EXAMPLE_NOW_MS};
use cairn_api::keys::SignerKey;
use cairn_api::merkle::{Blake3, MemoryTree, inclusion_proof};
use cairn_api::note::Checkpoint;
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::timestamp::Timestamp;

/// The most receipts one demo writes.
const MAX_DEMO_RECEIPTS: u64 = 10_000;

/// Arguments of `cairn-gate demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write keys, receipts and proofs.
    #[arg(long, default_value = "cairn-demo")]
    out: PathBuf,
    /// How many receipts to sign and log (1 to 10000).
    #[arg(long, default_value_t = 12)]
    count: u64,
}

fn ts(ms: u64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms).map_err(|e| e.to_string())
}

fn write(path: PathBuf, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn key_entry(action: KeyAction, role: KeyRole, key: &SignerKey, at: Timestamp) -> Result<Entry, String> {
    let statement = KeyStatement {
        action,
        role,
        key: key.verifier(),
        issued_at: at,
        reason: None,
    };
    let body = statement.sign(&examples::authority_key()).map_err(|e| e.to_string())?;
    Entry::new(EntryKind::Key, at, body).map_err(|e| e.to_string())
}

/// Run the demo.
pub fn run(args: &Args) -> Result<(), String> {
    if args.count == 0 || args.count > MAX_DEMO_RECEIPTS {
        return Err(format!("--count must be 1 to {MAX_DEMO_RECEIPTS}"));
    }
    let keys_dir = args.out.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("cannot create {}: {e}", keys_dir.display()))?;
    let (log, gate, operator, authority) = (
        examples::log_key(),
        examples::gate_key(),
        examples::operator_key(),
        examples::authority_key(),
    );
    for (name, key) in [
        ("log", &log),
        ("gate", &gate),
        ("operator", &operator),
        ("authority", &authority),
    ] {
        write(keys_dir.join(format!("{name}.vkey")), format!("{}\n", key.verifier()))?;
    }

    // The log: the authority registers the gate and operator keys, then the
    // gate's receipts follow.
    let mut entries = vec![
        key_entry(KeyAction::Register, KeyRole::Gate, &gate, ts(EXAMPLE_NOW_MS - 60_000)?)?,
        key_entry(
            KeyAction::Register,
            KeyRole::Operator,
            &operator,
            ts(EXAMPLE_NOW_MS - 59_000)?,
        )?,
    ];
    let first_receipt = entries.len();
    for n in 0..args.count {
        let at = ts(EXAMPLE_NOW_MS + n * 1000 + 7)?;
        entries.push(Entry::new(EntryKind::Receipt, at, examples::signed_receipt(n)).map_err(|e| e.to_string())?);
    }
    let tree = MemoryTree::<Blake3>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
    let checkpoint = Checkpoint::new(log.name(), tree.size(), tree.root())
        .sign(&log)
        .map_err(|e| e.to_string())?;
    write(args.out.join("checkpoint"), checkpoint.to_text())?;

    println!(
        "cairn demo: {} entries logged in memory, checkpoint signed by {}",
        tree.size(),
        log.verifier().key_ref()
    );
    println!("  root {} (BLAKE3, RFC 9162)", tree.root());
    println!();
    println!("  index  decision  action   surface:target            file");
    for (index, entry) in entries.iter().enumerate().skip(first_receipt) {
        let index = index as u64;
        let signed = entry.receipt().map_err(|e| e.to_string())?;
        let receipt = signed.verify(&gate.verifier()).map_err(|e| e.to_string())?;
        let proof = TlogProof {
            extra: Some(entry_header(entry.kind(), entry.integrated_at())),
            index,
            hashes: inclusion_proof::<Blake3, _>(&tree, index, tree.size()).map_err(|e| e.to_string())?,
            checkpoint: checkpoint.clone(),
        };
        // Check our own output before handing it out.
        proof
            .verify_body(entry.body(), &log.verifier(), &[])
            .map_err(|e| format!("proof {index} does not verify: {e}"))?;
        let stem = format!("receipt-{index:04}");
        write(args.out.join(format!("{stem}.cose")), entry.body())?;
        write(args.out.join(format!("{stem}.tlog-proof")), proof.to_text())?;
        let json = serde_json::to_string_pretty(&receipt.to_json()).map_err(|e| e.to_string())?;
        write(args.out.join(format!("{stem}.json")), json + "\n")?;
        let p = receipt.parts();
        println!(
            "  {index:>5}  {:<8}  {:<7}  {:<24}  {stem}.cose{}",
            p.decision.as_str(),
            p.request.action.name,
            format!("{}:{}", p.request.resource.kind, p.request.resource.id),
            if p.break_glass.is_some() { "  (break-glass)" } else { "" }
        );
    }
    let d = args.out.display();
    println!();
    println!("Wrote keys, receipts (.cose, .json) and C2SP tlog-proofs to {d}/. Check one independently:");
    println!(
        "  cargo run -p cairn-verify -- receipt {d}/receipt-0002.cose --proof {d}/receipt-0002.tlog-proof \\\n      --log-key @{d}/keys/log.vkey --gate-key @{d}/keys/gate.vkey"
    );
    println!("These are public TEST keys: never use them for anything real.");
    Ok(())
}
