//! Test vectors for C2SP tile paths and entry bundles (spec section 10.1)
//! and for key histories (section 9.2).

use cairn_api::entry::{KeyAction, KeyRole};
use cairn_api::key_history::check_transition;
use cairn_api::tiles::{TileId, TileKind, decode_bundle, encode_bundle};
use serde_json::{Value, json};

use crate::vectors::Case;

fn tile_json(t: &TileId) -> Value {
    let (kind, level) = match t.kind {
        TileKind::Hashes { level } => ("hashes", Some(level)),
        TileKind::Entries => ("entries", None),
    };
    json!({ "kind": kind, "level": level, "index": t.index, "width": t.width })
}

/// Tile paths (parsed or refused), the tiles of a tree size, entry bundles.
pub fn tiles(out: &mut Vec<Case>) {
    let paths = [
        (
            "c2sp-example",
            "tile/0/x001/x234/067",
            "C2SP's own example: index 1234067",
        ),
        ("level-63", "tile/63/000", "the highest level"),
        ("partial", "tile/0/005.p/17", "a partial tile of width 17"),
        (
            "entries-full",
            "tile/entries/x001/000",
            "a full entry bundle, index 1000",
        ),
        ("entries-partial", "tile/entries/000.p/255", "the widest partial bundle"),
        ("short-index", "tile/0/1", "N must be 3 digits"),
        ("long-index", "tile/0/0001", "N elements are exactly 3 digits"),
        ("leading-zero-level", "tile/01/000", "L has no leading zeros"),
        ("level-64", "tile/64/000", "L is at most 63"),
        ("x-on-last", "tile/0/x001", "the last element has no x"),
        ("no-x", "tile/0/001/002", "all but the last element start with x"),
        ("x000-prefix", "tile/0/x000/001", "one spelling: index 1 is 001"),
        ("width-0", "tile/0/000.p/0", "W is 1 to 255"),
        ("width-256", "tile/0/000.p/256", "a full tile has no .p/"),
        ("width-leading-zero", "tile/0/000.p/017", "W has no leading zeros"),
        (
            "go-data-path",
            "tile/8/data/000",
            "Go's sumdb data tiles are not C2SP entry bundles",
        ),
        ("trailing-slash", "tile/0/000/", "no trailing slash"),
    ];
    for (name, path, desc) in paths {
        let expected = match TileId::parse(path) {
            Ok(t) => tile_json(&t),
            Err(e) => json!({ "error": cairn_api::examples::variant_path(&format!("{e:?}")) }),
        };
        out.push((
            format!("tiles/path-{name}"),
            json!({ "desc": desc, "op": "parse", "path": path, "expected": expected }),
        ));
    }
    for size in [0u64, 1, 255, 256, 257, 65_536, 70_000] {
        let mut tiles: Vec<String> = TileId::levels_for(size)
            .flat_map(|l| TileId::tiles_for(TileKind::Hashes { level: l }, size))
            .map(|t| t.path())
            .collect();
        tiles.extend(TileId::tiles_for(TileKind::Entries, size).map(|t| t.path()));
        out.push((
            format!("tiles/size-{size}"),
            json!({
                "desc": format!("every tile and entry bundle of a tree of size {size}, hash tiles by level then bundles"),
                "op": "tiles_for",
                "size": size,
                "expected": { "paths": tiles },
            }),
        ));
    }
    let entries: [&[u8]; 3] = [b"a", b"", &[7; 300]];
    let bundle = encode_bundle(entries).unwrap_or_default();
    for (name, bytes, width, desc) in [
        (
            "bundle-valid",
            bundle.clone(),
            3u16,
            "three entries, each after its big-endian u16 length",
        ),
        ("bundle-short", bundle.clone(), 4, "fewer entries than the width"),
        ("bundle-long", bundle.clone(), 2, "more entries than the width"),
        (
            "bundle-truncated",
            bundle[..bundle.len() - 1].to_vec(),
            3,
            "ends inside the last entry",
        ),
        ("bundle-half-length", vec![0], 1, "ends inside a length prefix"),
    ] {
        let expected = match decode_bundle(&bytes, width) {
            Ok(es) => json!({ "entries": es.iter().map(hex::encode).collect::<Vec<_>>() }),
            Err(e) => json!({ "error": cairn_api::examples::variant_path(&format!("{e:?}")) }),
        };
        out.push((
            format!("tiles/{name}"),
            json!({ "desc": desc, "op": "bundle", "bundle": hex::encode(&bytes), "width": width, "expected": expected }),
        ));
    }
}

/// Sequences of key statements for one key and each one's outcome.
pub fn key_histories(out: &mut Vec<Case>) {
    use KeyAction::{Register, Revoke};
    use KeyRole::{Gate, Operator};
    type Steps = &'static [(KeyAction, KeyRole)];
    let cases: [(&str, &str, Steps); 7] = [
        (
            "register-revoke",
            "registered, then revoked",
            &[(Register, Gate), (Revoke, Gate)],
        ),
        (
            "register-twice",
            "a second registration is refused",
            &[(Register, Gate), (Register, Gate)],
        ),
        (
            "register-other-role",
            "a key has one role",
            &[(Register, Gate), (Register, Operator)],
        ),
        (
            "re-register",
            "revocation is permanent",
            &[(Register, Gate), (Revoke, Gate), (Register, Gate)],
        ),
        ("revoke-unknown", "nothing to revoke", &[(Revoke, Gate)]),
        (
            "revoke-twice",
            "revoked once",
            &[(Register, Operator), (Revoke, Operator), (Revoke, Operator)],
        ),
        (
            "revoke-other-role",
            "the revocation names the registered role",
            &[(Register, Gate), (Revoke, Operator)],
        ),
    ];
    for (name, desc, steps) in cases {
        let mut standing = None;
        let mut outcomes = Vec::new();
        for &(action, role) in steps {
            match check_transition(standing, action, role) {
                Ok(()) => {
                    standing = Some((role, action == Register));
                    outcomes.push(json!("ok"));
                }
                Err(e) => outcomes.push(json!({ "error": cairn_api::examples::variant_path(&format!("{e:?}")) })),
            }
        }
        let statements: Vec<Value> = steps
            .iter()
            .map(|(a, r)| json!({ "action": if *a == Register { "register" } else { "revoke" }, "role": r.as_str() }))
            .collect();
        out.push((
            format!("key-history/{name}"),
            json!({ "desc": desc, "statements": statements, "expected": outcomes }),
        ));
    }
}
