//! What encoded frames mean to a WHATWG parser, written from the spec (not from the parser),
//! and the plumbing to compare: owned frame parts, the encoder's bytes for them, and the
//! parser's output for those bytes in any chunking.
//!
//! Shared by the round-trip property tests (`core/tests/it/roundtrip.rs`, `tests/it/golden_frames.rs`) and
//! the `encode_roundtrip` fuzz target, which includes this file by path: it depends on
//! nothing but `sse-core` and `std`.
//!
//! What a frame means ([`meaning`]): its comment comes out as a comment (the bytes after the
//! `:`, so with the encoder's one space), its `retry` as a retry, and its `data`, if any, as
//! one event whose type is the frame's `event` (or `message` when absent or empty), whose data
//! is the frame's data with CRLF and CR turned into LF, and whose last event ID is the frame's
//! `id` if it has one, else the previous one. A frame without data dispatches nothing, but its
//! `id` still becomes the last event ID.

use sse_core::Duration;
use sse_core::event::{Comment, EventId, EventName, Frame};
use sse_core::parse::{Parser, Step};

/// What the parser reports, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Event {
        event_type: String,
        data: String,
        last_event_id: String,
    },
    Comment(String),
    Retry(u64),
}

/// The owned parts of a frame (a [`Frame`] borrows them).
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub comment: Option<String>,
    pub retry: Option<u64>,
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
}

impl Parts {
    /// The frame. Panics (test code) on a field its constructor refuses: callers only build
    /// parts from valid fields.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            comment: self
                .comment
                .as_deref()
                .map(|c| Comment::new(c).expect("a valid comment")),
            retry: self.retry.map(Duration::from_millis),
            event: self
                .event
                .as_deref()
                .map(|e| EventName::new(e).expect("a valid event name")),
            id: self
                .id
                .as_deref()
                .map(|i| EventId::new(i).expect("a valid id")),
            data: self.data.as_deref(),
        }
    }
}

/// `data` as an event carries it: CRLF and CR become LF.
pub fn normalise(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// What `frames`, sent in order after `last_event_id`, mean to a WHATWG parser; and the last
/// event ID afterwards.
pub fn meaning(frames: &[Parts], mut last_event_id: String) -> (Vec<Out>, String) {
    let mut out = Vec::new();
    for p in frames {
        if let Some(c) = &p.comment {
            out.push(Out::Comment(format!(" {c}")));
        }
        if let Some(r) = p.retry {
            out.push(Out::Retry(r));
        }
        if let Some(id) = &p.id {
            last_event_id.clone_from(id);
        }
        if let Some(data) = &p.data {
            let event_type = match p.event.as_deref() {
                None | Some("") => "message",
                Some(name) => name,
            };
            out.push(Out::Event {
                event_type: event_type.to_owned(),
                data: normalise(data),
                last_event_id: last_event_id.clone(),
            });
        }
    }
    (out, last_event_id)
}

/// The encoder's bytes for `frames`, concatenated; checks `encoded_len` is exact and that a
/// slice too small is refused with the length it needs.
pub fn encode_all(frames: &[Parts]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for p in frames {
        let frame = p.frame();
        let len = frame.encoded_len();
        let start = bytes.len();
        bytes.resize(start + len, 0);
        assert_eq!(frame.encode(&mut bytes[start..]), Ok(len));
        assert_eq!(frame.encode(&mut []).map_err(|e| e.needed), Err(len));
    }
    bytes
}

/// Feeds `chunks` to a fresh `Parser<LINE, DATA>`, ends the stream, and returns everything it
/// said and the last event ID. A parse error or a cut event fails the test: encoder output is
/// always well formed, and callers pick bounds that hold their frames.
pub fn parse_chunks<const LINE: usize, const DATA: usize>(chunks: &[&[u8]]) -> (Vec<Out>, String) {
    let mut parser = Parser::<LINE, DATA>::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => break,
                Ok(Step::Event(e)) => {
                    assert!(!e.truncated, "nothing is cut at these bounds");
                    out.push(Out::Event {
                        event_type: e.event_type.into(),
                        data: e.data.into(),
                        last_event_id: e.last_event_id.into(),
                    });
                }
                Ok(Step::Comment(c)) => out.push(Out::Comment(c.to_owned())),
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Ok(step) => panic!("a step this model does not know: {step:?}"),
                Err(e) => panic!("encoder output failed to parse: {e:?}"),
            }
        }
    }
    parser.finish();
    (out, parser.last_event_id().into())
}
