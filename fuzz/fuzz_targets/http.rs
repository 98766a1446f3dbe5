//! The device's HTTP response reader (`sse_embedded_app::http`): a head of at most `HEAD` bytes,
//! then the body decoded in place. It reads whatever the network delivers, so on any bytes, split
//! anywhere, it must not panic, must never produce more body than it was given, and must say
//! exactly what it says for the same bytes in one piece. Shared by the `http_response` target and
//! the corpus replay in `tests/it/fuzz_corpus.rs`.
// Each includer uses only some of these.
#![allow(dead_code)]

use sse_embedded_app::http::{Body, ChunkError, HeadError, HeadReader, ResponseHead};

// The parser targets' input layout and splitter (the includer provides `common`).
use super::common::split_input;

/// Small, so `HeadError::TooLarge` is reached often.
const HEAD: usize = 128;

/// Everything the reader said about one response.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The head was refused.
    Head(HeadError),
    /// The head did not end.
    NoHead,
    /// The head, the decoded body, whether the body said it was complete, and the body error
    /// that stopped decoding, if any.
    Response {
        head: ResponseHead,
        body: Vec<u8>,
        done: bool,
        error: Option<ChunkError>,
    },
}

/// Reads `chunks` as one response, the way the device's client does.
pub fn run(chunks: &[&[u8]]) -> Outcome {
    let mut reader = HeadReader::<HEAD>::new();
    let mut response: Option<(ResponseHead, Body, Vec<u8>)> = None;
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        let (head, decoder, body) = match &mut response {
            Some(r) => r,
            None => match reader.push(&mut rest) {
                Err(e) => return Outcome::Head(e),
                Ok(None) => {
                    assert!(rest.is_empty(), "an unfinished head takes every byte");
                    continue;
                }
                Ok(Some(head)) => response.insert((head, Body::new(head.framing), Vec::new())),
            },
        };
        let mut buf = rest.to_vec();
        match decoder.decode_in_place(&mut buf) {
            Ok(n) => {
                assert!(n <= buf.len(), "decoded {n} bytes from {}", buf.len());
                body.extend_from_slice(&buf[..n]);
            }
            Err(error) => {
                return Outcome::Response {
                    head: *head,
                    body: Vec::new(),
                    done: false,
                    error: Some(error),
                };
            }
        }
    }
    match response {
        Some((head, decoder, body)) => Outcome::Response {
            head,
            body,
            done: decoder.is_done(),
            error: None,
        },
        None => Outcome::NoHead,
    }
}

/// `http_response`: a response in the layout of `common::split_input`. The result must not
/// depend on the split.
pub fn check(data: &[u8]) {
    let Some((response, chunks)) = split_input(data) else {
        return;
    };
    let whole = run(&[response]);
    if let Outcome::Response { body, .. } = &whole {
        assert!(body.len() <= response.len());
    }
    assert_eq!(run(&chunks), whole);
    let bytes: Vec<&[u8]> = response.chunks(1).collect();
    assert_eq!(run(&bytes), whole);
}
