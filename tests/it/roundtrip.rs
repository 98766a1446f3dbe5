//! Encode → parse round trip: for arbitrary valid frames, `parse(encode(frames))` gives back
//! exactly what the frames mean under WHATWG "interpret an event stream", for any chunking of
//! the bytes and for long concatenated streams.
//!
//! What a frame means ([`meaning`]): its comment comes out as [`Step::Comment`] (the bytes after
//! the `:`, so with the encoder's one space), its `retry` as [`Step::Retry`], and its `data`, if
//! any, as one event whose type is the frame's `event` (or `message` when absent or empty), whose
//! data is the frame's data with CRLF and CR turned into LF, and whose last event ID is the
//! frame's `id` if it has one, else the previous one. A frame without data dispatches nothing,
//! but its `id` still becomes the last event ID.

use proptest::option;
use proptest::prelude::*;
use sse_core::Duration;
use sse_core::event::{Comment, EventId, EventName, Frame};
use sse_core::parse::{Parser, Step};

/// Bounds well above anything the strategies generate, so nothing is cut.
type Big = Parser<1024, 8192>;

/// What the parser reports, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Out {
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
pub(crate) struct Parts {
    pub(crate) comment: Option<String>,
    pub(crate) retry: Option<u64>,
    pub(crate) event: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) data: Option<String>,
}

impl Parts {
    /// The frame; panics (test code) on a field the strategies should not have made.
    pub(crate) fn frame(&self) -> Frame<'_> {
        Frame {
            comment: self.comment.as_deref().map(|c| Comment::new(c).unwrap()),
            retry: self.retry.map(Duration::from_millis),
            event: self.event.as_deref().map(|e| EventName::new(e).unwrap()),
            id: self.id.as_deref().map(|i| EventId::new(i).unwrap()),
            data: self.data.as_deref(),
        }
    }
}

/// What `frames`, sent in order after `last_event_id`, mean to a WHATWG parser; and the last
/// event ID afterwards. Written from the spec, not from the parser.
pub(crate) fn meaning(frames: &[Parts], mut last_event_id: String) -> (Vec<Out>, String) {
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
                data: data.replace("\r\n", "\n").replace('\r', "\n"),
                last_event_id: last_event_id.clone(),
            });
        }
    }
    (out, last_event_id)
}

/// The encoder's bytes for `frames`, concatenated.
pub(crate) fn encode_all(frames: &[Parts]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for p in frames {
        let frame = p.frame();
        let start = bytes.len();
        bytes.resize(start + frame.encoded_len(), 0);
        let n = frame.encode(&mut bytes[start..]).unwrap();
        assert_eq!(start + n, bytes.len());
    }
    bytes
}

/// Feeds `chunks` to a fresh parser, ends the stream, and returns everything it said and the
/// last event ID. Any parse error fails the test: encoder output is always well formed.
pub(crate) fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Out>, String) {
    let mut parser = Big::new();
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
                Ok(Step::Comment(c)) => {
                    out.push(Out::Comment(String::from_utf8(c.to_vec()).unwrap()));
                }
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Err(e) => panic!("encoder output failed to parse: {e:?}"),
            }
        }
    }
    parser.finish();
    (out, parser.last_event_id().into())
}

/// Splits `input` at `points` (taken modulo its length + 1, sorted).
fn split<'a>(input: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&input[start..cut]);
        start = cut;
    }
    chunks.push(&input[start..]);
    chunks
}

/// Field text for names and ids: anything but CR, LF and NUL, with leading spaces, colons,
/// unicode and the odd BOM character.
const FIELD: &str = "[ :a-zA-Z0-9_\u{e9}\u{feff}\u{1F600}\t]{0,10}";

fn parts() -> impl Strategy<Value = Parts> {
    (
        // Comments may hold NUL (parsers ignore comments).
        option::of("[ :a-z\0\u{e9}]{0,10}"),
        option::of(prop_oneof![0..10_000u64, any::<u64>()]),
        option::of(prop_oneof![
            Just("message".to_owned()),
            Just(String::new()),
            FIELD
        ]),
        option::of(prop_oneof![Just(String::new()), "[0-9]{1,20}", FIELD]),
        // Data rich in line breaks of every kind, empty lines, leading spaces and unicode.
        option::of(prop_oneof![
            Just(String::new()),
            Just("\n".to_owned()),
            Just("\r\n\r\n".to_owned()),
            "( {0,2}[a-z:\u{e9}\u{feff}\u{1F600}\0]{0,5}(\r\n|\r|\n)?){0,8}",
        ]),
    )
        .prop_map(|(comment, retry, event, id, data)| Parts {
            comment,
            retry,
            event,
            id,
            data,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn one_frame_round_trips(p in parts()) {
        let frames = [p];
        let bytes = encode_all(&frames);
        prop_assert_eq!(parse_chunks(&[&bytes]), meaning(&frames, String::new()));
    }

    #[test]
    fn a_stream_of_frames_round_trips_in_any_chunking(
        frames in prop::collection::vec(parts(), 0..40),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let bytes = encode_all(&frames);
        let expected = meaning(&frames, String::new());
        prop_assert_eq!(&parse_chunks(&[&bytes]), &expected);
        prop_assert_eq!(&parse_chunks(&split(&bytes, &points)), &expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_stream_round_trips_fed_one_byte_at_a_time(frames in prop::collection::vec(parts(), 0..16)) {
        let bytes = encode_all(&frames);
        let bytes: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(parse_chunks(&bytes), meaning(&frames, String::new()));
    }
}

/// The cases the WHATWG rules make easy to get wrong, spelled out.
#[test]
fn frames_the_spec_treats_specially() {
    let p = |event: Option<&str>, id: Option<&str>, data: Option<&str>| Parts {
        event: event.map(Into::into),
        id: id.map(Into::into),
        data: data.map(Into::into),
        ..Parts::default()
    };
    let ev = |t: &str, d: &str, id: &str| Out::Event {
        event_type: t.into(),
        data: d.into(),
        last_event_id: id.into(),
    };
    let frames = [
        // No data: nothing is dispatched, but the id is taken.
        p(Some("state"), Some("7"), None),
        p(None, None, Some("a")),
        // An empty id resets the last event ID; an empty name means `message`.
        p(Some(""), Some(""), Some("")),
        // Line breaks of every kind come back as LF; an empty line and a leading space survive.
        p(Some("x"), Some(" 8"), Some("\r\n b\r\rc\n")),
        Parts {
            retry: Some(0),
            comment: Some(String::new()),
            ..Parts::default()
        },
    ];
    let expected = vec![
        ev("message", "a", "7"),
        ev("message", "", ""),
        ev("x", "\n b\n\nc\n", " 8"),
        Out::Comment(" ".into()),
        Out::Retry(0),
    ];
    assert_eq!(
        meaning(&frames, String::new()),
        (expected.clone(), " 8".into())
    );
    assert_eq!(
        parse_chunks(&[&encode_all(&frames)]),
        (expected, " 8".into())
    );
}
