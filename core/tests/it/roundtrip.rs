//! Encode → parse round trip: for arbitrary valid frames, `parse(encode(frames))` gives back
//! exactly what the frames mean under WHATWG "interpret an event stream", for any chunking of
//! the bytes and for long concatenated streams.
//!
//! What a frame means is written down once, from the spec, in `crate::support::frame_model`
//! (shared with the `encode_roundtrip` fuzz target).

use crate::support::chunks::split_at_points;
pub(crate) use crate::support::frame_model::{Out, Parts, encode_all, meaning};
use proptest::option;
use proptest::prelude::*;

/// Bounds well above anything the strategies generate, so nothing is cut.
pub(crate) fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Out>, String) {
    crate::support::frame_model::parse_chunks::<1024, 8192>(chunks)
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
        prop_assert_eq!(&parse_chunks(&split_at_points(&bytes, &points)), &expected);
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
