//! Every case in `testvectors/` gives its expected outcome when run from its
//! inputs alone, through the public API, with the exact error variant.

mod common;

use cairn_api::cbor;
use cairn_api::cose::Sign1;
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples::variant_path;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, MemoryTree, MerkleHasher, Sha256, verify_consistency, verify_inclusion};
use cairn_api::note::{Checkpoint, SignedNote};
use cairn_api::proof::TlogProof;
use cairn_api::receipt::{RECEIPT_CONTENT_TYPE, Receipt};
use cairn_api::timestamp::Timestamp;
use serde_json::{Value, json};

fn outcome<T, E: std::fmt::Debug>(r: Result<T, E>) -> Value {
    match r {
        Ok(_) => json!("ok"),
        Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}
fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}
fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(s(v)).unwrap()
}
fn hash(v: &Value) -> Hash {
    Hash::from_hex(s(v)).unwrap()
}
fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}
fn vkey(v: &Value) -> VerifierKey {
    VerifierKey::parse(s(v)).unwrap()
}

fn run(kind: &str, c: &Value) -> Value {
    match kind {
        "merkle-root" => {
            let leaves = c["leaves"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| Sha256::hash_leaf(&bytes(l)));
            json!({ "root": MemoryTree::<Sha256>::from_leaf_hashes(leaves).root().to_hex() })
        }
        "inclusion" => outcome(verify_inclusion::<Sha256>(
            &hash(&c["leaf_hash"]),
            u(&c["index"]),
            u(&c["tree_size"]),
            &hashes(&c["proof"]),
            &bytes(&c["root"]),
        )),
        "consistency" => outcome(verify_consistency::<Sha256>(
            u(&c["size1"]),
            u(&c["size2"]),
            &hashes(&c["proof"]),
            &bytes(&c["root1"]),
            &bytes(&c["root2"]),
        )),
        "cbor" => outcome(cbor::decode(&bytes(&c["cbor"]))),
        "receipt" => {
            let cose = bytes(&c["cose_sign1"]);
            let msg = Sign1::parse(&cose, s(&c["content_type"])).unwrap();
            msg.verify(&vkey(&c["gate_vkey"])).unwrap();
            let payload = bytes(&c["payload_cbor"]);
            assert_eq!(msg.payload(), payload.as_slice());
            let r = Receipt::from_cbor(&payload).unwrap();
            assert_eq!(r.to_json(), c["json"], "JSON view");
            assert_eq!(
                Receipt::from_json(&c["json"]).unwrap().to_cbor(),
                payload,
                "JSON to CBOR"
            );
            if r.parts().break_glass.is_some() {
                r.verify_break_glass(&vkey(&c["operator_vkey"])).unwrap();
            }
            let at = Timestamp::from_millis(u(&c["integrated_at"])).unwrap();
            let entry = Entry::new(EntryKind::Receipt, at, cose).unwrap();
            assert_eq!(entry.to_cbor(), bytes(&c["entry_cbor"]));
            assert_eq!(Entry::from_cbor(&bytes(&c["entry_cbor"])).unwrap(), entry);
            json!({ "valid": true, "leaf_hash": entry.leaf_hash().to_hex(), "request_hash": r.request_hash().to_hex() })
        }
        "receipt-invalid" => outcome(Receipt::from_cbor(&bytes(&c["payload_cbor"]))),
        "cose" => match VerifierKey::parse(s(&c["vkey"])) {
            Err(e) => json!({ "error": variant_path(&format!("Key({e:?})")) }),
            Ok(k) => outcome(Sign1::parse(&bytes(&c["cose_sign1"]), RECEIPT_CONTENT_TYPE).and_then(|m| m.verify(&k))),
        },
        "note" => {
            let keys: Vec<VerifierKey> = c["vkeys"].as_array().unwrap().iter().map(vkey).collect();
            match SignedNote::parse(s(&c["note"]).as_bytes()).and_then(|n| n.verify(&keys).map(|v| (n, v))) {
                Ok((n, v)) => json!({
                    "text": n.text(),
                    "verified_by": v.iter().map(|x| x.key.to_string()).collect::<Vec<_>>(),
                }),
                Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
            }
        }
        "checkpoint" => {
            let witnesses: Vec<VerifierKey> = c["witness_vkeys"].as_array().unwrap().iter().map(vkey).collect();
            match Checkpoint::verify(s(&c["note"]).as_bytes(), &vkey(&c["log_vkey"]), &witnesses) {
                Ok((cp, _, cosigs)) => json!({
                    "origin": cp.origin,
                    "size": cp.size,
                    "root": cp.root.to_hex(),
                    "cosignature_timestamps": cosigs.iter().filter_map(|x| x.timestamp).collect::<Vec<_>>(),
                }),
                Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
            }
        }
        "tlog-proof" => {
            let r = TlogProof::parse(s(&c["tlog_proof"]).as_bytes())
                .and_then(|p| p.verify_body(&bytes(&c["cose_sign1"]), &vkey(&c["log_vkey"]), &[]));
            match r {
                Ok((entry, cp, _)) => json!({ "leaf_hash": entry.leaf_hash().to_hex(), "tree_size": cp.size }),
                Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
            }
        }
        "policy" => {
            let bundle = cairn_api::policy::Bundle::from_bytes(&bytes(&c["bundle_cbor"])).unwrap();
            assert_eq!(bundle.hash().to_hex(), s(&c["bundle_hash"]));
            let policy = cairn_api::policy::Policy::compile(&bundle).unwrap();
            for case in c["cases"].as_array().unwrap() {
                let input: cairn_api::policy::DecisionInput = serde_json::from_value(case["input"].clone()).unwrap();
                let d = policy.decide(&input);
                let got = json!({
                    "decision": d.decision,
                    "determining_rules": d.determining_rules,
                    "reason_code": d.reason.code,
                });
                assert_eq!(got, case["expected"], "{}", case["label"]);
            }
            json!("ok")
        }
        "tiles" => tiles_case(c),
        "key-statement" => match cairn_api::entry::KeyStatement::from_cbor(&bytes(&c["payload_cbor"])) {
            Ok(st) => json!({
                "action": if st.action == cairn_api::entry::KeyAction::Register { "register" } else { "revoke" },
                "role": st.role.as_str(),
                "key": st.key.to_string(),
                "issued_at": st.issued_at.millis(),
                "reason": st.reason,
            }),
            Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
        },
        "export" => {
            use cairn_api::export::{ExportDecoder, ExportItem};
            let mut d = ExportDecoder::new();
            d.push(&bytes(&c["stream"]));
            let mut items = Vec::new();
            loop {
                match d.next_item() {
                    Ok(Some(ExportItem::Header { origin, from })) => items.push(json!(["header", origin, from])),
                    Ok(Some(ExportItem::Entry { index, .. })) => items.push(json!(["entry", index])),
                    Ok(Some(ExportItem::Checkpoint { size, .. })) => items.push(json!(["checkpoint", size])),
                    Ok(None) => break,
                    Err(e) => return json!({ "error": variant_path(&format!("{e:?}")) }),
                }
            }
            match d.finish() {
                Ok(()) => json!({ "items": items }),
                Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
            }
        }
        "key-history" => {
            use cairn_api::entry::{KeyAction, KeyRole};
            let mut standing = None;
            let mut outcomes = Vec::new();
            for st in c["statements"].as_array().unwrap() {
                let action = if s(&st["action"]) == "register" {
                    KeyAction::Register
                } else {
                    KeyAction::Revoke
                };
                let role = KeyRole::parse(s(&st["role"])).unwrap();
                match cairn_api::key_history::check_transition(standing, action, role) {
                    Ok(()) => {
                        standing = Some((role, action == KeyAction::Register));
                        outcomes.push(json!("ok"));
                    }
                    Err(e) => outcomes.push(json!({ "error": variant_path(&format!("{e:?}")) })),
                }
            }
            json!(outcomes)
        }
        other => panic!("unknown test-vector kind {other}"),
    }
}

#[test]
fn every_vector_gives_its_expected_outcome() {
    let cases = common::json_files(&common::testvectors_dir());
    assert!(cases.len() > 250, "only {} test vectors found", cases.len());
    let mut per_kind = std::collections::BTreeMap::<String, usize>::new();
    for (path, case) in &cases {
        let kind = path.parent().unwrap().file_name().unwrap().to_str().unwrap();
        assert!(case["desc"].is_string(), "{}: no desc", path.display());
        if ["trust-file", "state-file"].contains(&kind) {
            // The auditor's files: parsed by the verifier, checked by
            // verifier-cli/tests/testvectors_files.rs.
            continue;
        }
        let got = run(kind, case);
        assert_eq!(got, case["expected"], "{}", path.display());
        *per_kind.entry(kind.to_owned()).or_default() += 1;
    }
    println!("testvectors: {} cases passed {per_kind:?}", cases.len());
}

fn tiles_case(c: &Value) -> Value {
    use cairn_api::tiles::{TileId, TileKind, decode_bundle};
    match s(&c["op"]) {
        "parse" => match TileId::parse(s(&c["path"])) {
            Ok(t) => {
                let (kind, level) = match t.kind {
                    TileKind::Hashes { level } => ("hashes", Some(level)),
                    TileKind::Entries => ("entries", None),
                };
                json!({ "kind": kind, "level": level, "index": t.index, "width": t.width })
            }
            Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
        },
        "tiles_for" => {
            let size = u(&c["size"]);
            let mut paths: Vec<String> = TileId::levels_for(size)
                .flat_map(|l| TileId::tiles_for(TileKind::Hashes { level: l }, size))
                .map(|t| t.path())
                .collect();
            paths.extend(TileId::tiles_for(TileKind::Entries, size).map(|t| t.path()));
            json!({ "paths": paths })
        }
        "bundle" => {
            let b = bytes(&c["bundle"]);
            match decode_bundle(&b, u(&c["width"]) as u16) {
                Ok(es) => json!({ "entries": es.iter().map(hex::encode).collect::<Vec<_>>() }),
                Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
            }
        }
        other => panic!("unknown tiles op {other}"),
    }
}
