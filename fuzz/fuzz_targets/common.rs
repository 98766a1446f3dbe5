//! Shared by the parser targets (and replayed over the committed corpus by
//! `tests/it/fuzz_corpus.rs`): run a parser over chunks and record everything it says.
// Each includer uses only some of these.
#![allow(dead_code)]

use sse_core::parse::{ParseError, Parser, Step};

/// The chunk splitter the property tests use too.
#[path = "../../tests/src/chunks.rs"]
mod chunks;

/// Small bounds, so truncation and `LineTooLong` are reached often.
pub type Small = Parser<16, 64>;

#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    Event(String, String, String, bool),
    Comment(Vec<u8>),
    Retry(u64),
    Error(ParseError),
}

/// Feeds `chunks`, ends the stream, and checks every output is within the bounds.
pub fn run<const L: usize, const D: usize>(
    parser: &mut Parser<L, D>,
    chunks: &[&[u8]],
) -> (Vec<Out>, String) {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            let before = rest.len();
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => {
                    assert!(rest.is_empty());
                    break;
                }
                Ok(Step::Event(e)) => {
                    assert!(e.event_type.len() <= L || e.event_type == "message");
                    assert!(e.data.len() <= D && e.last_event_id.len() <= L);
                    out.push(Out::Event(
                        e.event_type.into(),
                        e.data.into(),
                        e.last_event_id.into(),
                        e.truncated,
                    ));
                }
                Ok(Step::Comment(c)) => {
                    assert!(c.len() <= L);
                    out.push(Out::Comment(c.as_bytes().to_vec()));
                }
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Ok(step) => panic!("a step this harness does not know: {step:?}"),
                Err(e) => {
                    assert!(rest.len() < before, "an error must consume input");
                    out.push(Out::Error(e));
                }
            }
        }
    }
    parser.finish();
    (out, parser.last_event_id().into())
}

/// `parse_bytes`: arbitrary bytes in one push; no panic, every output within its bound.
pub fn check_bytes(data: &[u8]) {
    run(&mut Small::new(), &[data]);
    run(&mut Parser::<0, 0>::new(), &[data]);
}

/// `parse_chunked`: arbitrary bytes split at arbitrary points parse exactly as the whole input.
///
/// Input layout: one byte `n`, then `n % 16` little-endian u16 split points (taken modulo the
/// stream length), then the stream itself.
pub fn check_chunked(data: &[u8]) {
    let Some((stream, chunks)) = split_input(data) else {
        return;
    };
    let whole = run(&mut Small::new(), &[stream]);
    assert_eq!(run(&mut Small::new(), &chunks), whole);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&mut Small::new(), &bytes), whole);
}

/// The split-input layout of the chunked targets: one byte `n`, then `n % 16` little-endian u16
/// split points, then the stream. Returns the stream and its chunks; `None` if `data` is too
/// short for its own header.
pub fn split_input(data: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    let (&n, rest) = data.split_first()?;
    let header = usize::from(n % 16) * 2;
    if rest.len() < header {
        return None;
    }
    let (points, stream) = rest.split_at(header);
    Some((stream, split(stream, points)))
}

/// Splits `stream` at the little-endian u16s in `points` (each taken modulo its length + 1).
pub fn split<'a>(stream: &'a [u8], points: &[u8]) -> Vec<&'a [u8]> {
    let points: Vec<usize> = points
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])))
        .collect();
    chunks::split_at_points(stream, &points)
}
