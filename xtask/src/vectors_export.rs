//! Export streams (spec section 18): what a decoder accepts, and the first
//! error of each malformed stream.

use cairn_api::examples;
use cairn_api::export::{ExportDecoder, ExportItem};
use serde_json::{Value, json};

use crate::vectors::Case;

/// Decode a whole stream: the items' kinds and indexes/sizes, or the error.
pub fn decode(stream: &[u8]) -> Value {
    let mut d = ExportDecoder::new();
    d.push(stream);
    let mut items = Vec::new();
    loop {
        match d.next_item() {
            Ok(Some(ExportItem::Header { origin, from })) => items.push(json!(["header", origin, from])),
            Ok(Some(ExportItem::Entry { index, .. })) => items.push(json!(["entry", index])),
            Ok(Some(ExportItem::Checkpoint { size, .. })) => items.push(json!(["checkpoint", size])),
            Ok(None) => break,
            Err(e) => return json!({ "error": examples::variant_path(&format!("{e:?}")) }),
        }
    }
    match d.finish() {
        Ok(()) => json!({ "items": items }),
        Err(e) => json!({ "error": examples::variant_path(&format!("{e:?}")) }),
    }
}

/// The cases.
pub fn cases(out: &mut Vec<Case>) {
    let origin = examples::log_key().name().to_owned();
    let header = |from: u64| {
        ExportItem::Header {
            origin: origin.clone(),
            from,
        }
        .encode()
    };
    let entry = |index: u64| {
        ExportItem::Entry {
            index,
            bytes: vec![0x83, 0x63, b'k', b'e', b'y', 0x00, 0x40],
        }
        .encode()
    };
    let cp = |size: u64| {
        ExportItem::Checkpoint {
            size,
            note: format!("{origin}\n{size}\nAAAA\n\n— {origin} AAAA\n"),
        }
        .encode()
    };
    let cat = |parts: &[Vec<u8>]| parts.concat();
    let streams: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "valid",
            "a header, two entries, a checkpoint after each",
            cat(&[header(0), entry(0), cp(1), entry(1), cp(2)]),
        ),
        (
            "from-3",
            "a continuation from entry 3 (valid as a stream; not auditable alone)",
            cat(&[header(3), entry(3), cp(4)]),
        ),
        ("header-only", "an empty log: the header alone", header(0)),
        ("empty", "no bytes at all", vec![]),
        ("no-header", "an entry first", cat(&[entry(0), cp(1)])),
        ("two-headers", "a second header", cat(&[header(0), header(0)])),
        ("gap", "entry 2 after entry 0", cat(&[header(0), entry(0), entry(2)])),
        (
            "checkpoint-early",
            "a checkpoint of size 2 after one entry",
            cat(&[header(0), entry(0), cp(2)]),
        ),
        (
            "checkpoint-repeated",
            "the checkpoint of size 1 twice",
            cat(&[header(0), entry(0), cp(1), cp(1)]),
        ),
        (
            "checkpoint-before-from",
            "a continuation from 3 with the checkpoint of size 3",
            cat(&[header(3), cp(3)]),
        ),
        ("truncated", "cut inside the last item", {
            let s = cat(&[header(0), entry(0), cp(1)]);
            s[..s.len() - 3].to_vec()
        }),
        (
            "unknown-kind",
            "an item of kind \"note\"",
            cat(&[header(0), vec![0x83, 0x64, b'n', b'o', b't', b'e', 0x00, 0x60]]),
        ),
        ("non-canonical", "an entry index in a two-byte integer", {
            let mut e = entry(0);
            // ["entry", 0, ...]: 0x83 0x65 "entry" 0x00 -> 0x18 0x00.
            e.splice(7..8, [0x18, 0x00]);
            cat(&[header(0), e])
        }),
    ];
    for (name, desc, stream) in streams {
        out.push((
            format!("export/{name}"),
            json!({ "desc": desc, "stream": hex::encode(&stream), "expected": decode(&stream) }),
        ));
    }
}
