//! The WHATWG parser against the golden corpus, an independent model of the spec, and arbitrary
//! input and chunking.

use proptest::prelude::*;
use sse_core::parse::{ParseError, Parser, Step};
use sse_tests::chunks::split_at_points;
use sse_tests::golden::{self, Expected, GoldenEvent};

/// Limits well above anything in the corpus.
type Big = Parser<4096, 65536>;

/// Everything the parser reports, owned, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Event {
        event_type: String,
        data: String,
        last_event_id: String,
        truncated: bool,
    },
    Comment(Vec<u8>),
    Retry(u64),
    Error(ParseError),
}

/// Feeds `chunks` to `parser`, then ends the stream; returns all outputs and the final
/// last event ID and retry.
fn run<const L: usize, const D: usize>(
    parser: &mut Parser<L, D>,
    chunks: &[&[u8]],
) -> (Vec<Out>, String, Option<u64>) {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => break,
                Ok(Step::Event(e)) => {
                    assert!(e.event_type.len() <= L || e.event_type == "message");
                    assert!(e.last_event_id.len() <= L && e.data.len() <= D);
                    out.push(Out::Event {
                        event_type: e.event_type.into(),
                        data: e.data.into(),
                        last_event_id: e.last_event_id.into(),
                        truncated: e.truncated,
                    });
                }
                Ok(Step::Comment(c)) => {
                    assert!(c.len() <= L);
                    out.push(Out::Comment(c.as_bytes().to_vec()));
                }
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Ok(step) => panic!("a step this harness does not know: {step:?}"),
                Err(e) => out.push(Out::Error(e)),
            }
        }
    }
    parser.finish();
    assert!(parser.last_event_id().len() <= L);
    (
        out,
        parser.last_event_id().into(),
        parser.retry().map(|d| d.as_millis()),
    )
}

fn parse_all(chunks: &[&[u8]]) -> (Vec<Out>, String, Option<u64>) {
    run(&mut Big::new(), chunks)
}

/// Only what the golden files record.
fn as_expected((out, last_event_id, retry): (Vec<Out>, String, Option<u64>)) -> Expected {
    let events = out
        .into_iter()
        .filter_map(|o| match o {
            Out::Event {
                event_type,
                data,
                last_event_id,
                truncated,
            } => {
                assert!(!truncated);
                Some(GoldenEvent {
                    event_type,
                    data,
                    last_event_id,
                })
            }
            _ => None,
        })
        .collect();
    Expected {
        events,
        last_event_id,
        retry,
    }
}

#[test]
fn golden_cases() {
    for case in golden::cases() {
        assert_eq!(
            as_expected(parse_all(&[&case.input])),
            case.expected,
            "{}",
            case.name
        );
    }
}

#[test]
fn golden_cases_agree_with_the_spec_model() {
    for case in golden::cases() {
        assert_eq!(model(&case.input), case.expected, "{}", case.name);
    }
}

#[test]
fn parsing_is_independent_of_chunking() {
    for case in golden::cases() {
        let expected = parse_all(&[&case.input]);
        for at in 0..=case.input.len() {
            let (a, b) = case.input.split_at(at);
            assert_eq!(parse_all(&[a, b]), expected, "{}: split at {at}", case.name);
        }
        let bytes: Vec<&[u8]> = case.input.chunks(1).collect();
        assert_eq!(parse_all(&bytes), expected, "{}: byte at a time", case.name);
    }
}

#[test]
fn golden_comments_and_retries() {
    let case = |name: &str| {
        let case = golden::cases()
            .into_iter()
            .find(|c| c.name == name)
            .expect("case");
        parse_all(&[&case.input]).0
    };
    let comments: Vec<Out> = case("comments")
        .into_iter()
        .filter(|o| matches!(o, Out::Comment(_)))
        .collect();
    assert_eq!(
        comments,
        [
            Out::Comment(b"".to_vec()),
            Out::Comment(b" keep-alive".to_vec()),
            Out::Comment(b"data: not a field".to_vec()),
            Out::Comment(b" inside an event".to_vec()),
        ]
    );
    let retries: Vec<Out> = case("retry-last-wins")
        .into_iter()
        .filter(|o| matches!(o, Out::Retry(_)))
        .collect();
    assert_eq!(retries, [Out::Retry(7), Out::Retry(2500)]);
}

#[test]
fn streams_continue_after_finish() {
    // Two connections: the second keeps the last event ID and retry of the first.
    let mut parser = Big::new();
    let first = run(
        &mut parser,
        &[b"retry: 10\nid: a\ndata: 1\n\nid: b\ndata: unfinished\n"],
    );
    assert_eq!((first.1.as_str(), first.2), ("a", Some(10)));
    let (out, id, retry) = run(&mut parser, &[b"\xEF\xBB\xBFdata: 2\n\n"]);
    assert_eq!(
        out,
        [Out::Event {
            event_type: "message".into(),
            data: "2".into(),
            last_event_id: "a".into(),
            truncated: false
        }]
    );
    assert_eq!((id.as_str(), retry), ("a", Some(10)));
}

/// A direct, allocating transcription of WHATWG HTML §9.2.6: decode the whole stream, split it
/// into lines, process each. No bounds; used as the oracle for the real parser.
fn model(input: &[u8]) -> Expected {
    let text = String::from_utf8_lossy(input);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let (mut data, mut event_type, mut id_buffer) = (String::new(), String::new(), String::new());
    let mut expected = Expected::default();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\r' && c != '\n' {
            line.push(c);
            continue;
        }
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        if line.is_empty() {
            expected.last_event_id = id_buffer.clone();
            if !data.is_empty() {
                data.pop();
                let event_type = if event_type.is_empty() {
                    "message".into()
                } else {
                    event_type.clone()
                };
                expected.events.push(GoldenEvent {
                    event_type,
                    data: data.clone(),
                    last_event_id: id_buffer.clone(),
                });
            }
            data.clear();
            event_type.clear();
        } else if !line.starts_with(':') {
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => event_type = value.into(),
                "data" => {
                    data.push_str(value);
                    data.push('\n');
                }
                "id" if !value.contains('\0') => id_buffer = value.into(),
                "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                    let ms = value.bytes().fold(0u64, |n, b| {
                        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
                    });
                    expected.retry = Some(ms);
                }
                _ => {}
            }
        }
        line.clear();
    }
    expected
}

/// Stream-shaped bytes: field names, separators, line ends, BOMs and broken UTF-8.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"retry:".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("é€😀".as_bytes().to_vec()),
        Just(b"\xE2\x82".to_vec()),
        Just(b"\xF0".to_vec()),
        "[a-z0-9]{0,12}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_or_exceed_bounds(input in prop::collection::vec(any::<u8>(), 0..512)) {
        // `run` asserts every output is within LINE / DATA.
        run(&mut Parser::<8, 16>::new(), &[&input]);
        run(&mut Parser::<0, 0>::new(), &[&input]);
    }

    #[test]
    fn stream_shaped_bytes_never_exceed_bounds(input in sse_bytes()) {
        run(&mut Parser::<5, 12>::new(), &[&input]);
    }

    #[test]
    fn chunking_never_changes_the_result(input in sse_bytes(), points in prop::collection::vec(any::<usize>(), 0..8)) {
        let chunks = split_at_points(&input, &points);
        prop_assert_eq!(run(&mut Parser::<6, 24>::new(), &chunks), run(&mut Parser::<6, 24>::new(), &[&input]));
        prop_assert_eq!(parse_all(&chunks), parse_all(&[&input]));
    }

    #[test]
    fn parser_matches_the_spec_model(input in sse_bytes(), points in prop::collection::vec(any::<usize>(), 0..4)) {
        let chunks = split_at_points(&input, &points);
        prop_assert_eq!(as_expected(parse_all(&chunks)), model(&input));
    }
}
