//! Encoder properties over arbitrary valid frames: the length is exact, a short buffer is
//! refused untouched, the output has exactly the expected lines, and the writer adapter
//! produces the same bytes.

use proptest::option;
use proptest::prelude::*;
use sse_core::Duration;
use sse_core::event::{Comment, EventId, EventName, Frame};

/// The owned parts of a frame (a `Frame` borrows them).
#[derive(Debug, Clone)]
struct Parts {
    comment: Option<String>,
    retry: Option<u64>,
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

impl Parts {
    fn frame(&self) -> Frame<'_> {
        Frame {
            comment: self.comment.as_deref().map(|c| Comment::new(c).unwrap()),
            retry: self.retry.map(Duration::from_millis),
            event: self.event.as_deref().map(|e| EventName::new(e).unwrap()),
            id: self.id.as_deref().map(|i| EventId::new(i).unwrap()),
            data: self.data.as_deref(),
        }
    }

    /// The wire text, built independently of the encoder from CORE-API.md's layout.
    fn expected(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.comment {
            out += &format!(": {c}\n");
        }
        if let Some(r) = self.retry {
            out += &format!("retry: {r}\n");
        }
        if let Some(e) = &self.event {
            out += &format!("event: {e}\n");
        }
        if let Some(i) = &self.id {
            out += &format!("id: {i}\n");
        }
        if let Some(d) = &self.data {
            for line in d.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
                out += &format!("data: {line}\n");
            }
        }
        out + "\n"
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        option::of("[^\r\n]{0,12}"),
        option::of(any::<u64>()),
        option::of("[^\r\n\0]{0,12}"),
        option::of("[^\r\n\0]{0,12}"),
        // Data rich in line breaks of every kind.
        option::of("([a-z \u{e9}\u{1F600}]{0,6}(\r\n|\r|\n)?){0,8}"),
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
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn encoded_len_is_exact_and_lines_are_as_specified(p in parts()) {
        let frame = p.frame();
        let expected = p.expected();
        prop_assert_eq!(frame.encoded_len(), expected.len());

        let mut buf = vec![0u8; expected.len() + 8];
        let n = frame.encode(&mut buf).unwrap();
        prop_assert_eq!(n, expected.len());
        prop_assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), expected.as_str());

        // Into a slice (embedded-io's writer without `std`, so this runs in every feature set).
        let mut written = vec![0u8; n];
        let mut sink: &mut [u8] = &mut written;
        sse_core::io::write_frame(&mut sink, &frame).unwrap();
        prop_assert!(sink.is_empty());
        prop_assert_eq!(&written[..], &buf[..n]);
    }

    #[test]
    fn one_byte_short_is_refused_with_nothing_written(p in parts()) {
        let frame = p.frame();
        let len = frame.encoded_len();
        let mut buf = vec![0x5Au8; len - 1];
        let err = frame.encode(&mut buf).unwrap_err();
        prop_assert_eq!(err.needed, len);
        prop_assert!(buf.iter().all(|&b| b == 0x5A));
    }

    #[test]
    fn invalid_fields_are_refused_never_panic(s in "\\PC{0,8}[\r\n\0]\\PC{0,8}") {
        prop_assert!(EventName::new(&s).is_err());
        prop_assert!(EventId::new(&s).is_err());
        prop_assert_eq!(Comment::new(&s).is_err(), s.contains(['\r', '\n']));
    }
}
