//! Arbitrary bytes split at arbitrary points must parse exactly as the whole input does.
//!
//! Input layout: one byte `n`, then `n % 16` little-endian u16 split points (taken modulo the
//! stream length), then the stream itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let header = usize::from(n % 16) * 2;
    if rest.len() < header {
        return;
    }
    let (points, stream) = rest.split_at(header);
    let mut cuts: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&stream[start..cut]);
        start = cut;
    }
    chunks.push(&stream[start..]);

    let whole = common::run(&mut common::Small::new(), &[stream]);
    assert_eq!(common::run(&mut common::Small::new(), &chunks), whole);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(common::run(&mut common::Small::new(), &bytes), whole);
});
