//! Tile paths and entry bundles (spec section 10.1): a path that parses is
//! written back byte for byte; a bundle that decodes re-encodes to the
//! same bytes; neither panics.
#![no_main]
use cairn_api::tiles::{TileId, decode_bundle, encode_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = TileId::parse(text)
    {
        assert_eq!(t.path(), text);
    }
    if let Some((&w, rest)) = data.split_first()
        && let Ok(entries) = decode_bundle(rest, u16::from(w))
    {
        assert_eq!(encode_bundle(entries).unwrap(), rest);
    }
});
