//! The `encode_roundtrip` check (also replayed over the committed corpus by
//! `tests/it/fuzz_corpus.rs`): arbitrary frames → encode → parse gives back exactly what the
//! frames mean (WHATWG "interpret an event stream"), whole and in arbitrary chunks; a field
//! with CR, LF or NUL is refused at construction with the right error, never a panic.
//!
//! Input layout, split on `0xFF` (never part of UTF-8, so a natural separator): a header
//! segment of little-endian u16 split points, then per frame five segments `ctrl`, `comment`,
//! `event`, `id`, `data`. `ctrl[0]` says which fields are present (bit 0 comment, 1 retry,
//! 2 event, 3 id, 4 data), `ctrl[1..9]` is the little-endian `retry` value (missing bytes are
//! zero). Text is decoded lossily.

use sse_core::event::{Comment, EventId, EventName, InvalidField};

#[path = "common.rs"]
pub mod common;
/// What frames mean, written once from the spec and shared with the property tests.
#[path = "../../core/tests/it/support/frame_model.rs"]
pub mod frame_model;

use frame_model::{Parts, encode_all, meaning, normalise, parse_chunks};

/// Bounds for the exact check; fields that would not fit are left out of the frame.
const LINE: usize = 256;
const DATA: usize = 2048;

/// The error a field constructor must give for `s`, if any (first offender wins).
fn expected_error(s: &str, nul_allowed: bool) -> Result<(), InvalidField> {
    for b in s.bytes() {
        match b {
            b'\r' => return Err(InvalidField::ContainsCr),
            b'\n' => return Err(InvalidField::ContainsLf),
            0 if !nul_allowed => return Err(InvalidField::ContainsNul),
            _ => {}
        }
    }
    Ok(())
}

/// Keeps `s` if its constructor accepts it (and checks the constructor agrees with the rules).
fn field(
    present: bool,
    seg: &[u8],
    nul_allowed: bool,
    ok: impl Fn(&str) -> Result<(), InvalidField>,
) -> Option<String> {
    if !present {
        return None;
    }
    let s = String::from_utf8_lossy(seg).into_owned();
    let got = ok(&s);
    assert_eq!(got, expected_error(&s, nul_allowed), "{s:?}");
    got.ok().map(|()| s)
}

fn decode(data: &[u8]) -> (Vec<u8>, Vec<Parts>) {
    let mut segs = data.split(|&b| b == 0xFF);
    let header = segs.next().unwrap_or_default().to_vec();
    let mut frames = Vec::new();
    while let Some(ctrl) = segs.next() {
        let mut next = || segs.next().unwrap_or_default();
        let (comment, event, id, data) = (next(), next(), next(), next());
        let flags = ctrl.first().copied().unwrap_or(0);
        let mut retry = [0u8; 8];
        for (r, c) in retry.iter_mut().zip(ctrl.iter().skip(1)) {
            *r = *c;
        }
        let mut p = Parts {
            comment: field(flags & 1 != 0, comment, true, |s| {
                Comment::new(s).map(|_| ())
            }),
            retry: (flags & 2 != 0).then(|| u64::from_le_bytes(retry)),
            event: field(flags & 4 != 0, event, false, |s| {
                EventName::new(s).map(|_| ())
            }),
            id: field(flags & 8 != 0, id, false, |s| EventId::new(s).map(|_| ())),
            data: (flags & 16 != 0).then(|| String::from_utf8_lossy(data).into_owned()),
        };
        // Leave out what the exact check's bounds could not hold (the small parser below still
        // sees the big inputs).
        p.comment = p.comment.filter(|c| c.len() < LINE);
        p.event = p.event.filter(|e| e.len() <= LINE);
        p.id = p.id.filter(|i| i.len() <= LINE);
        p.data = p.data.filter(|d| normalise(d).len() <= DATA);
        frames.push(p);
    }
    (header, frames)
}

/// Runs the round trip for one input.
pub fn check(data: &[u8]) {
    let (header, frames) = decode(data);
    let bytes = encode_all(&frames);
    let expected = meaning(&frames, String::new());
    assert_eq!(parse_chunks::<LINE, DATA>(&[&bytes]), expected);
    assert_eq!(
        parse_chunks::<LINE, DATA>(&common::split(&bytes, &header)),
        expected
    );
    // Tiny bounds: never a panic, every output within them.
    common::run(&mut common::Small::new(), &[&bytes]);
}
