//! `cairn-verify audit --export` and `replay --export`: a clean log passes;
//! every tamper the verifier issue lists is caught, named, and exits 1.

mod common;

use cairn_api::cose;
use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::receipt::{Decision, Receipt, SignedReceipt};
use common::{Log, TempDir, audit_export, failures};

#[test]
fn a_clean_log_audits_and_the_state_file_follows_it() {
    let dir = TempDir::new("clean");
    let log = Log::standard(40, 16);
    let state = dir.0.join("state.json");
    let (code, v) = audit_export(&dir, &log.export(), Some(&state));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["receipts"]["valid"], 40);
    assert_eq!(v["receipts"]["total"], 40);
    assert_eq!(v["key_statements"]["valid"], 2);
    assert_eq!(v["policy_bundles"]["valid"], 1);
    assert_eq!(v["checkpoints"]["valid"], v["checkpoints"]["total"]);
    assert!(state.exists());
    // The log grows; the next audit is consistent with the state.
    let mut grown = Log::standard(40, 16);
    let b = common::bundle();
    for n in 40..50 {
        grown.append(EntryKind::Receipt, common::receipt(n, &b, &examples::gate_key()));
    }
    grown.checkpoint();
    let (code, v) = audit_export(&dir, &grown.export(), Some(&state));
    assert_eq!(code, 0, "{v:#}");
    assert!(v["notes"].to_string().contains("consistent with the last audit"));
    // Rolled back to the first log: caught against the state file.
    let (code, v) = audit_export(&dir, &log.export(), Some(&state));
    assert_eq!(code, 1);
    assert!(failures(&v).iter().any(|f| f.contains("rollback")), "{v:#}");
    // A rewritten history of the same size, re-signed by the log key: a fork.
    let mut rewritten = Log::standard(40, 16);
    for n in 100..110 {
        rewritten.append(EntryKind::Receipt, common::receipt(n, &b, &examples::gate_key()));
    }
    rewritten.checkpoint();
    let (code, v) = audit_export(&dir, &rewritten.export(), Some(&state));
    assert_eq!(code, 1);
    assert!(failures(&v).iter().any(|f| f.contains("fork")), "{v:#}");
    // Failing audits never moved the state.
    let (code, _) = audit_export(&dir, &grown.export(), Some(&state));
    assert_eq!(code, 0);
}

/// A tiny deterministic generator (no rand dependency in tests).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

/// What byte `pos` of the export belongs to.
#[derive(Debug, Clone, Copy)]
enum Where {
    Header,
    Entry(u64),
    Checkpoint(u64),
}

fn where_is(log: &Log, pos: usize) -> Where {
    let mut at = cairn_api::export::ExportItem::Header {
        origin: log.log_key.name().to_owned(),
        from: 0,
    }
    .encode()
    .len();
    if pos < at {
        return Where::Header;
    }
    let mut cps = log.checkpoints.iter().peekable();
    for (i, e) in log.entries.iter().enumerate() {
        at += cairn_api::export::ExportItem::Entry {
            index: i as u64,
            bytes: e.clone(),
        }
        .encode()
        .len();
        if pos < at {
            return Where::Entry(i as u64);
        }
        while let Some((size, note)) = cps.peek() {
            if *size != i as u64 + 1 {
                break;
            }
            at += cairn_api::export::ExportItem::Checkpoint {
                size: *size,
                note: note.clone(),
            }
            .encode()
            .len();
            if pos < at {
                return Where::Checkpoint(*size);
            }
            cps.next();
        }
    }
    Where::Header
}

#[test]
fn one_flipped_byte_anywhere_fails_and_names_the_entry() {
    let dir = TempDir::new("flip");
    let log = Log::standard(30, 8);
    let export = log.export();
    let mut seed = 0x5eed;
    let mut tried = 0;
    while tried < 20 {
        let pos = (lcg(&mut seed) as usize) % export.len();
        let place = where_is(&log, pos);
        tried += 1;
        let mut bad = export.clone();
        bad[pos] ^= 1 << (lcg(&mut seed) % 8);
        let (code, v) = audit_export(&dir, &bad, None);
        assert_eq!(code, 1, "byte {pos} ({place:?}): {v:#}");
        // The failure names the entry (or the checkpoint range that holds
        // it), or the checkpoint whose bytes were flipped.
        let named = v["failures"]["listed"].as_array().unwrap().iter().any(|f| {
            let what = f["what"].as_str().unwrap();
            match place {
                Where::Entry(entry) => {
                    f["index"].as_u64() == Some(entry)
                        || what.contains(&format!("entry {entry}"))
                        || range_holds(what, entry)
                }
                Where::Checkpoint(size) => {
                    what.contains(&format!("checkpoint {size}")) || f["index"].as_u64() == Some(size)
                }
                Where::Header => true,
            }
        });
        assert!(named, "byte {pos} ({place:?}): {:#?}", failures(&v));
    }
}

/// `an entry in A..=B` with A <= entry <= B.
fn range_holds(what: &str, entry: u64) -> bool {
    let Some(rest) = what.split("an entry in ").nth(1) else {
        return false;
    };
    let range: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '=')
        .collect();
    let mut parts = range.split("..=");
    match (
        parts.next().and_then(|a| a.parse::<u64>().ok()),
        parts.next().and_then(|b| b.parse::<u64>().ok()),
    ) {
        (Some(a), Some(b)) => (a..=b).contains(&entry),
        _ => false,
    }
}

#[test]
fn deleted_swapped_and_truncated_exports_fail() {
    let dir = TempDir::new("structure");
    let log = Log::standard(20, 8);
    // Deleting entry 10 (and its index renumbered, checkpoints kept).
    let mut deleted = Log::default();
    for (i, e) in log.entries.iter().enumerate() {
        if i != 10 {
            deleted.append_raw(e.clone());
        }
    }
    deleted.checkpoints = log.checkpoints.iter().filter(|c| c.0 <= 22).cloned().collect();
    let (code, v) = audit_export(&dir, &deleted.export(), None);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        failures(&v).iter().any(|f| f.contains("an entry in 8..=15")),
        "{:#?}",
        failures(&v)
    );
    // Swapping entries 5 and 6.
    let mut swapped = Log::default();
    for i in 0..log.entries.len() {
        let j = match i {
            5 => 6,
            6 => 5,
            _ => i,
        };
        swapped.append_raw(log.entries[j].clone());
    }
    swapped.checkpoints = log.checkpoints.clone();
    let (code, v) = audit_export(&dir, &swapped.export(), None);
    assert_eq!(code, 1);
    assert!(
        failures(&v).iter().any(|f| f.contains("an entry in 3..=7")),
        "{:#?}",
        failures(&v)
    );
    // Truncated: inside an item, and at an item boundary before the last checkpoint.
    let export = log.export();
    let (code, v) = audit_export(&dir, &export[..export.len() - 10], None);
    assert_eq!(code, 1);
    assert!(
        failures(&v).iter().any(|f| f.contains("ends inside an item")),
        "{:#?}",
        failures(&v)
    );
    let mut cut = Log::default();
    for e in &log.entries[..18] {
        cut.append_raw(e.clone());
    }
    cut.checkpoints = log.checkpoints.iter().filter(|c| c.0 <= 16).cloned().collect();
    let (code, v) = audit_export(&dir, &cut.export(), None);
    assert_eq!(code, 1);
    assert!(
        failures(&v)
            .iter()
            .any(|f| f.contains("not covered by any signed checkpoint")),
        "{:#?}",
        failures(&v)
    );
    // Empty.
    let (code, _) = audit_export(&dir, b"", None);
    assert_eq!(code, 1);
}

#[test]
fn a_replaced_bundle_or_a_changed_decision_fails() {
    let dir = TempDir::new("content");
    let log = Log::standard(12, 100);
    // The archived bundle replaced by another one (authority-signed even):
    // receipts name a hash that is no longer archived, and the root moves.
    let mut replaced = Log::default();
    let other = common::bundle_of("devops-staging", "# nothing allowed\n");
    for (i, e) in log.entries.iter().enumerate() {
        if i == 2 {
            replaced.append(
                EntryKind::Policy,
                cose::sign(other.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap(),
            );
        } else {
            replaced.append_raw(e.clone());
        }
    }
    replaced.checkpoints = log.checkpoints.clone();
    let (code, v) = audit_export(&dir, &replaced.export(), None);
    assert_eq!(code, 1);
    let f = failures(&v);
    assert!(
        f.iter().any(|f| f.starts_with("entry 3: names policy bundle")),
        "{f:#?}"
    );
    assert!(f.iter().any(|f| f.contains("is not the root")), "{f:#?}");
    // A receipt's decision changed in place (payload edited, signature kept).
    let mut changed = Log::default();
    for (i, e) in log.entries.iter().enumerate() {
        if i == 7 {
            let entry = Entry::from_cbor(e).unwrap();
            let signed = entry.receipt().unwrap();
            let mut p = signed.unverified().parts().clone();
            p.decision = if p.decision == Decision::Permit {
                Decision::Deny
            } else {
                Decision::Permit
            };
            // A well-formed COSE_Sign1 of the new payload under the gate's
            // kid, carrying the signature the gate made over the old one.
            let forged = SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
                .unwrap()
                .1;
            let body = splice_signature(&forged, entry.body());
            changed.append_raw(
                Entry::new(EntryKind::Receipt, entry.integrated_at(), body)
                    .unwrap()
                    .to_cbor(),
            );
        } else {
            changed.append_raw(e.clone());
        }
    }
    changed.checkpoints = log.checkpoints.clone();
    let (code, v) = audit_export(&dir, &changed.export(), None);
    assert_eq!(code, 1);
    let f = failures(&v);
    assert!(f.iter().any(|f| f.starts_with("entry 7: gate signature")), "{f:#?}");
}

/// `forged` with the signature of `original` (both canonical COSE_Sign1
/// with a 64-byte signature at the end).
fn splice_signature(forged: &[u8], original: &[u8]) -> Vec<u8> {
    let mut out = forged.to_vec();
    let n = out.len();
    out[n - 64..].copy_from_slice(&original[original.len() - 64..]);
    out
}

#[test]
fn a_receipt_after_its_key_was_revoked_fails() {
    let dir = TempDir::new("revoked");
    let mut log = Log::standard(5, 100);
    log.revoke_gate_then_sign(77);
    let (code, v) = audit_export(&dir, &log.export(), None);
    assert_eq!(code, 1);
    let f = failures(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].starts_with("entry 9: signed by") && f[0].contains("revoked"),
        "{f:#?}"
    );
    assert_eq!(v["receipts"]["valid"], 5);
}

#[test]
fn keys_and_checkpoints_from_untrusted_signers_fail() {
    let dir = TempDir::new("untrusted");
    // A gate key registered by a non-authority.
    let mut log = Log::default();
    let rogue = examples::operator_key();
    log.append(
        EntryKind::Key,
        common::key_statement(KeyAction::Register, KeyRole::Gate, &examples::gate_key(), &rogue),
    );
    log.checkpoint();
    let (code, v) = audit_export(&dir, &log.export(), None);
    assert_eq!(code, 1);
    assert!(failures(&v)[0].contains("not a trusted authority"), "{v:#}");
    // Checkpoints signed by another key with the log's name.
    let mut log = Log::standard(3, 100);
    log.log_key =
        cairn_api::keys::SignerKey::from_seed(examples::log_key().name(), cairn_api::keys::KeyType::Ed25519, &[9; 32])
            .unwrap();
    log.checkpoints.clear();
    log.checkpoint();
    let (code, v) = audit_export(&dir, &log.export(), None);
    assert_eq!(code, 1);
    let f = failures(&v);
    assert!(f.iter().any(|f| f.starts_with("checkpoint 6:")), "{f:#?}");
    assert!(
        f.iter().any(|f| f.contains("no checkpoint in the export verifies")),
        "{f:#?}"
    );
}

#[test]
fn replay_matches_and_what_if_reports_changes() {
    let dir = TempDir::new("replay");
    let log = Log::standard(27, 10);
    let e = dir.write("export.cbor", log.export());
    let t = dir.write("trust", common::trust_text());
    let out = common::verify_paths(&[&"replay", &"--json", &"--export", &e, &"--trust", &t]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["replayed"], 27);
    // Filters: only DENY decisions.
    let out = common::verify_paths(&[&"replay", &"--json", &"--export", &e, &"--decision", &"DENY"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    let denied = v["replayed"].as_u64().unwrap();
    assert!(denied > 0 && denied < 27, "{v:#}");
    assert!(v["not_checked"].to_string().contains("no --trust"));
    // What-if: a new revision of devops-staging that allows nothing changes
    // every PERMIT of the receipts it would replace.
    let strict = common::bundle_of("devops-staging", "# nothing allowed\n");
    let b = dir.write("strict.bundle", strict.as_bytes());
    let out = common::verify_paths(&[&"replay", &"--json", &"--export", &e, &"--bundle", &b]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{v:#}");
    assert_eq!(v["what_if_out_of_scope"], 0, "{v:#}");
    let total = v["replay_mismatches"]["total"].as_u64().unwrap();
    let changed = v["replay_mismatches"]["decisions_changed"].as_u64().unwrap();
    assert_eq!(v["replay_mismatches"]["rules_only_changed"], total - changed, "{v:#}");
    let listed = v["replay_mismatches"]["listed"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .all(|m| (m["change"] == "decision") == (m["recorded"] != m["replayed"])),
        "{v:#}"
    );
    // A candidate for another bundle id replaces none of these receipts:
    // nothing replayed unless --all-bundles.
    let other = common::bundle_of("other-policy", "# nothing allowed\n");
    let o = dir.write("other.bundle", other.as_bytes());
    let out = common::verify_paths(&[&"replay", &"--json", &"--export", &e, &"--bundle", &o]);
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{w:#}");
    assert_eq!(
        (w["replayed"].as_u64(), w["what_if_out_of_scope"].as_u64()),
        (Some(0), Some(27)),
        "{w:#}"
    );
    let out = common::verify_paths(&[&"replay", &"--json", &"--export", &e, &"--bundle", &o, &"--all-bundles"]);
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{w:#}");
    assert_eq!(w["replayed"], 27, "{w:#}");
    // Every PERMIT becomes a DENY; DENYs stay DENY (some with other
    // determining rules, which replay also reports).
    let listed = v["replay_mismatches"]["listed"].as_array().unwrap();
    let flipped = listed
        .iter()
        .filter(|m| m["recorded"] == "PERMIT" && m["replayed"] == "DENY")
        .count() as u64;
    assert_eq!(flipped, 27 - denied, "{v:#}");
    assert_eq!(v["replay_mismatches"]["decisions_changed"], flipped, "{v:#}");
    assert!(listed.iter().all(|m| m["replayed"] == "DENY"), "{v:#}");
    assert!(v["notes"].to_string().contains("decisions would change"), "{v:#}");
    // A receipt whose recorded decision the archived policy does not give:
    // signed by the gate, so it verifies, but replay disagrees (exit 2).
    let mut liar = Log::standard(3, 100);
    let mut p = examples::receipt_parts(0);
    p.policy = cairn_api::policy::policy_ref(&common::bundle());
    p.decision = Decision::Permit;
    p.determining_rules = vec!["made-up-rule".into()];
    p.idempotency_key = "liar".into();
    liar.append(
        EntryKind::Receipt,
        SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
            .unwrap()
            .1,
    );
    liar.checkpoint();
    let e = dir.write("liar.cbor", liar.export());
    let out = common::verify_paths(&[&"replay", &"--export", &e, &"--trust", &t]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("entry 6:"));
}

#[test]
fn usage_and_unreadable_inputs_have_their_exit_codes() {
    let dir = TempDir::new("usage");
    let t = dir.write("trust", common::trust_text());
    let e = dir.write("export.cbor", Log::standard(1, 100).export());
    // Both or neither source.
    assert_eq!(common::verify_paths(&[&"audit", &"--trust", &t]).status.code(), Some(4));
    assert_eq!(
        common::verify_paths(&[&"audit", &"--trust", &t, &"--export", &e, &"--url", &"http://x"])
            .status
            .code(),
        Some(4)
    );
    let bad_trust = dir.write("bad-trust", "log nonsense\n");
    let out = common::verify_paths(&[&"audit", &"--trust", &bad_trust, &"--export", &e]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let missing = dir.0.join("missing.cbor");
    assert_eq!(
        common::verify_paths(&[&"audit", &"--trust", &t, &"--export", &missing])
            .status
            .code(),
        Some(3)
    );
    let out = common::verify_paths(&[&"audit", &"--trust", &t, &"--export", &e]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1/1 receipts valid"), "{text}");
    assert!(
        text.contains("Not checked:") && text.contains("Result: VALID"),
        "{text}"
    );
}

#[test]
fn a_receipt_whose_policy_fields_are_not_its_bundle_s_fails() {
    // Signed by the gate and naming an archived bundle by hash, but
    // claiming another id, revision or engine for it.
    let dir = TempDir::new("policy-fields");
    type Change = fn(&mut cairn_api::receipt::PolicyRef);
    let cases: [(&str, Change); 3] = [
        ("bundle_id \"made-up\"", |p| p.bundle_id = "made-up".into()),
        ("revision 2", |p| p.revision = 2),
        ("engine cedar", |p| p.engine.name = "cedar".into()),
    ];
    for (what, change) in cases {
        let mut log = Log::standard(3, 100);
        let mut p = examples::receipt_parts(1);
        p.break_glass = None;
        p.policy = cairn_api::policy::policy_ref(&common::bundle());
        change(&mut p.policy);
        p.idempotency_key = "claims".into();
        let at = log.append(
            EntryKind::Receipt,
            SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
                .unwrap()
                .1,
        );
        log.checkpoint();
        let (code, v) = audit_export(&dir, &log.export(), None);
        assert_eq!(code, 1, "{what}: {v:#}");
        assert!(
            failures(&v)
                .iter()
                .any(|f| f.contains(&format!("entry {at}")) && f.contains(what)),
            "{what}: {v:#}"
        );
    }
}

#[test]
fn a_key_revoked_then_registered_again_stays_revoked() {
    // Revocation is permanent (docs/spec.md 9.2): the re-registration is a
    // failure and changes nothing, so the receipt after it is signed by a
    // revoked key.
    let dir = TempDir::new("reregister");
    let mut log = Log::standard(2, 100);
    let (gate, auth) = (examples::gate_key(), examples::authority_key());
    log.append(
        EntryKind::Key,
        common::key_statement(KeyAction::Revoke, KeyRole::Gate, &gate, &auth),
    );
    let again = log.append(
        EntryKind::Key,
        common::key_statement(KeyAction::Register, KeyRole::Gate, &gate, &auth),
    );
    let receipt = log.append(EntryKind::Receipt, common::receipt(7, &common::bundle(), &gate));
    // And revoking a key the log never registered.
    let stranger =
        cairn_api::keys::SignerKey::from_seed("gate.example/stranger", cairn_api::keys::KeyType::Ed25519, &[5; 32])
            .unwrap();
    let unknown = log.append(
        EntryKind::Key,
        common::key_statement(KeyAction::Revoke, KeyRole::Gate, &stranger, &auth),
    );
    log.checkpoint();
    let (code, v) = audit_export(&dir, &log.export(), None);
    assert_eq!(code, 1, "{v:#}");
    let f = failures(&v);
    let at = |i: u64, what: &str| f.iter().any(|x| x.contains(&format!("entry {i}")) && x.contains(what));
    assert!(at(again, "revocation is permanent"), "{v:#}");
    assert!(at(receipt, "which an earlier entry revoked"), "{v:#}");
    assert!(at(unknown, "never registered"), "{v:#}");
}

#[test]
fn a_broken_stream_reports_what_was_read_and_checked() {
    // More entries than one verification batch (2,048), then one stray
    // byte: INVALID, and the counts are those read and checked, not those
    // of the last full batch.
    let dir = TempDir::new("stray");
    let log = Log::standard(2500, 64);
    let mut export = log.export();
    export.push(0x00);
    let (code, v) = audit_export(&dir, &export, None);
    assert_eq!(code, 1, "{v:#}");
    assert!(failures(&v).iter().any(|f| f.contains("breaks here")), "{v:#}");
    assert_eq!(v["entries"], 2503, "{v:#}");
    assert_eq!(v["receipts"]["total"], 2500, "{v:#}");
    assert_eq!(v["checkpoints"]["total"], log.checkpoints.len(), "{v:#}");
}
