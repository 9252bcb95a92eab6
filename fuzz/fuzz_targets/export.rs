//! Export streams: the decoder never panics, whatever the bytes and however
//! they are split; the items it accepts re-encode to exactly the bytes it
//! consumed.
#![no_main]
use cairn_api::export::ExportDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the stream is cut into pushes.
    let (step, data) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    let mut d = ExportDecoder::new();
    let mut consumed = Vec::new();
    'outer: for chunk in data.chunks(step) {
        d.push(chunk);
        loop {
            match d.next_item() {
                Ok(Some(item)) => consumed.extend(item.encode()),
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    assert_eq!(consumed.as_slice(), &data[..consumed.len()]);
    if d.finish().is_ok() {
        assert_eq!(consumed.as_slice(), data);
    }
});
