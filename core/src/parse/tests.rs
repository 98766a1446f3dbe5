#![allow(clippy::indexing_slicing)] // Tests may panic; the parser may not.

use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::*;

/// What the parser produced, owned, so sequences can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Event {
        ty: String,
        data: String,
        id: String,
        truncated: bool,
    },
    Comment(Vec<u8>),
    Retry(u64),
    TooLong,
}

fn ev(ty: &str, data: &str, id: &str) -> Out {
    Out::Event {
        ty: ty.into(),
        data: data.into(),
        id: id.into(),
        truncated: false,
    }
}

fn feed<const L: usize, const D: usize>(parser: &mut Parser<L, D>, chunks: &[&[u8]]) -> Vec<Out> {
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
                Ok(Step::Event(e)) => out.push(Out::Event {
                    ty: e.event_type.to_string(),
                    data: e.data.to_string(),
                    id: e.last_event_id.to_string(),
                    truncated: e.truncated,
                }),
                Ok(Step::Comment(c)) => out.push(Out::Comment(c.as_bytes().to_vec())),
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Err(ParseError::LineTooLong) => {
                    assert!(rest.len() < before, "an error must consume input");
                    out.push(Out::TooLong);
                }
            }
        }
    }
    out
}

/// Parses `input` whole, then checks every 2-way split and 1-byte feeding give the same.
fn parse<const L: usize, const D: usize>(input: &[u8]) -> Vec<Out> {
    let whole = feed(&mut Parser::<L, D>::new(), &[input]);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(
            feed(&mut Parser::<L, D>::new(), &[a, b]),
            whole,
            "split at {at}"
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        feed(&mut Parser::<L, D>::new(), &bytes),
        whole,
        "byte at a time"
    );
    whole
}

fn p(input: &[u8]) -> Vec<Out> {
    parse::<64, 256>(input)
}

#[test]
fn spec_example_stock_ticker() {
    assert_eq!(
        p(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
        [ev("message", "YHOO\n+2\n10", "")]
    );
}

#[test]
fn spec_example_comment_and_ids() {
    let input = concat!(
        ": test stream\n",
        "\n",
        "data: first event\n",
        "id: 1\n",
        "\n",
        "data:second event\n",
        "id\n",
        "\n",
        "data:  third event\n",
        "\n",
    );
    assert_eq!(
        p(input.as_bytes()),
        [
            Out::Comment(b" test stream".to_vec()),
            ev("message", "first event", "1"),
            ev("message", "second event", ""),
            ev("message", " third event", ""),
        ]
    );
}

#[test]
fn spec_example_empty_data_and_unterminated_block() {
    let mut parser = Parser::<64, 256>::new();
    let out = feed(&mut parser, &[b"data\n\ndata\ndata\n\ndata:"]);
    assert_eq!(out, [ev("message", "", ""), ev("message", "\n", "")]);
    parser.finish();
    // The last block is discarded: it is not followed by a blank line.
    assert_eq!(feed(&mut parser, &[b"\n"]), []);
}

#[test]
fn spec_example_space_after_colon_is_optional() {
    assert_eq!(
        p(b"data:test\n\ndata: test\n\n"),
        [ev("message", "test", ""), ev("message", "test", "")]
    );
}

#[test]
fn event_types_reset_after_dispatch() {
    let input = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: x\n\n";
    assert_eq!(
        p(input),
        [
            ev("add", "73857293", ""),
            ev("remove", "2153", ""),
            ev("message", "x", "")
        ]
    );
}

#[test]
fn a_repeated_event_type_is_set_again_after_dispatch() {
    // The type's bytes are kept between events (only compared next time); the event in
    // between must still be a "message", and an empty `event:` too.
    let input = b"event: add\ndata: 1\n\ndata: 2\n\nevent: add\ndata: 3\n\nevent:\ndata: 4\n\n";
    assert_eq!(
        p(input),
        [
            ev("add", "1", ""),
            ev("message", "2", ""),
            ev("add", "3", ""),
            ev("message", "4", "")
        ]
    );
}

/// The events of `input` pushed whole, each with whether its data lies inside `input`.
fn lent(input: &[u8]) -> Vec<(String, bool)> {
    let mut parser = Parser::<64, 256>::new();
    let mut rest = input;
    let mut out = Vec::new();
    loop {
        match parser.push(&mut rest) {
            Ok(Step::NeedMore) => return out,
            Ok(Step::Event(e)) => {
                let inside = input.as_ptr_range().contains(&e.data.as_ptr());
                out.push((e.data.to_string(), inside));
            }
            Ok(_) | Err(_) => {}
        }
    }
}

#[test]
fn single_data_line_is_lent_from_the_input() {
    let input = b"event: state\nid: 7\ndata: {\"a\":1}\n\ndata: x\r\n\r\n";
    assert_eq!(
        lent(input),
        [("{\"a\":1}".to_string(), true), ("x".to_string(), true)]
    );
}

#[test]
fn data_is_copied_only_when_it_cannot_be_lent() {
    let long = format!("data: {}\n\n", "y".repeat(257));
    let cases: [(&[u8], &str, bool); 7] = [
        // Two lines are joined in the data buffer.
        (b"data: a\ndata: b\n\n", "a\nb", false),
        // A comment or retry is handed out before the event: the data moves to the buffer.
        (b"data: a\n: note\n\n", "a", false),
        (b"data: a\nretry: 5\n\n", "a", false),
        // Invalid UTF-8 is decoded.
        (b"data: a\xFF\n\n", "a\u{FFFD}", false),
        // Longer than DATA (256): cut.
        (long.as_bytes(), &long[6..262], false),
        // Other fields after the data leave it where it is.
        (b"data: a\nid: 1\nevent: e\nfoo: bar\n\n", "a", true),
        (b"data: a\n\n", "a", true),
    ];
    for (input, want, inside) in cases {
        assert_eq!(lent(input), [(want.to_string(), inside)], "{input:?}");
        // Lent or not, the event does not depend on chunking.
        assert!(matches!(&p(input)[..], [.., Out::Event { data, .. }] if data == want));
    }
}

#[test]
fn data_lent_at_the_end_of_a_push_is_kept_for_the_next() {
    let mut parser = Parser::<64, 256>::new();
    let mut first: &[u8] = b"data: kept\n";
    assert_eq!(parser.push(&mut first), Ok(Step::NeedMore));
    let mut second: &[u8] = b"\n";
    let Ok(Step::Event(e)) = parser.push(&mut second) else {
        panic!("no event");
    };
    assert_eq!(e.data, "kept");
}

#[test]
fn blank_line_without_data_dispatches_nothing_and_resets_type() {
    assert_eq!(p(b"event: a\n\ndata: x\n\n"), [ev("message", "x", "")]);
}

#[test]
fn id_without_data_still_sets_last_event_id() {
    let mut parser = Parser::<64, 256>::new();
    assert_eq!(feed(&mut parser, &[b"id: 9\n\n"]), []);
    assert_eq!(parser.last_event_id(), "9");
    assert_eq!(p(b"id: 9\n\ndata: x\n\n"), [ev("message", "x", "9")]);
}

#[test]
fn line_endings_cr_lf_crlf() {
    let want = [ev("a", "1\n2", "")];
    assert_eq!(p(b"event: a\rdata: 1\rdata: 2\r\r"), want);
    assert_eq!(p(b"event: a\ndata: 1\ndata: 2\n\n"), want);
    assert_eq!(p(b"event: a\r\ndata: 1\r\ndata: 2\r\n\r\n"), want);
    assert_eq!(p(b"event: a\r\ndata: 1\rdata: 2\n\r\n"), want);
    // LF CR is two line ends: a field line, then a blank line.
    assert_eq!(p(b"data: 1\n\r"), [ev("message", "1", "")]);
}

#[test]
fn crlf_split_across_pushes_is_one_line_end() {
    let mut parser = Parser::<64, 256>::new();
    let out = feed(
        &mut parser,
        &[b"data: x\r", b"\n", b"data: y\r", b"\n\r", b"\n"],
    );
    assert_eq!(out, [ev("message", "x\ny", "")]);
}

#[test]
fn bom_is_stripped_once_per_stream() {
    assert_eq!(p(b"\xEF\xBB\xBFdata: x\n\n"), [ev("message", "x", "")]);
    // A second BOM is U+FEFF in a field name: an unknown field.
    assert_eq!(
        p(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n"),
        [ev("message", "y", "")]
    );
    // A partial BOM is invalid UTF-8 in a field name: an unknown field, not a blank line.
    assert_eq!(p(b"\xEF\xBB\ndata: x\n\n"), [ev("message", "x", "")]);
    assert_eq!(p(b"\xEF\n\ndata: x\n\n"), [ev("message", "x", "")]);
    // No BOM in the middle of a stream.
    assert_eq!(
        p(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"),
        [ev("message", "a", "")]
    );
}

#[test]
fn bom_expected_again_after_finish() {
    let mut parser = Parser::<64, 256>::new();
    assert_eq!(
        feed(&mut parser, &[b"\xEF\xBB", b"\xBFdata: 1\n\n"]),
        [ev("message", "1", "")]
    );
    parser.finish();
    assert_eq!(
        feed(&mut parser, &[b"\xEF", b"\xBB\xBFdata: 2\n\n"]),
        [ev("message", "2", "")]
    );
}

#[test]
fn field_split_and_single_space_strip() {
    assert_eq!(
        p(b"data:a:b\n\ndata:  two\n\ndata:\t tab\n\n"),
        [
            ev("message", "a:b", ""),
            ev("message", " two", ""),
            ev("message", "\t tab", "")
        ]
    );
}

#[test]
fn field_without_colon_has_empty_value() {
    assert_eq!(p(b"event\ndata\n\n"), [ev("message", "", "")]);
    assert_eq!(
        p(b"id: 5\ndata: a\n\nid\ndata: b\n\n"),
        [ev("message", "a", "5"), ev("message", "b", "")]
    );
}

#[test]
fn field_names_are_case_sensitive_and_unknown_ones_ignored() {
    assert_eq!(
        p(b"Data: x\nDATA: y\ndata : z\nfoo: bar\nverylongfieldname: 1\ndata: ok\n\n"),
        [ev("message", "ok", "")]
    );
}

#[test]
fn comments_are_reported_and_cut_to_line() {
    let out = parse::<4, 16>(b":\n: ping\n:abcdefgh\ndata: x\n\n");
    assert_eq!(
        out,
        [
            Out::Comment(vec![]),
            Out::Comment(b" pin".to_vec()),
            Out::Comment(b"abcd".to_vec()),
            ev("message", "x", ""),
        ]
    );
}

#[test]
fn comments_are_decoded_and_cut_at_char_boundaries() {
    let out = parse::<5, 16>(b":a\xFF\n:ab\xE2\x82\xACc\n");
    assert_eq!(
        out,
        [Out::Comment("a\u{FFFD}".into()), Out::Comment("ab€".into())]
    );
    let out = parse::<4, 16>(b":ab\xE2\x82\xACc\n:abc\xE2\x82\n");
    assert_eq!(
        out,
        [Out::Comment(b"ab".to_vec()), Out::Comment(b"abc".to_vec())]
    );
}

#[test]
fn retry_accepts_only_ascii_digits() {
    let mut parser = Parser::<64, 256>::new();
    let out = feed(
        &mut parser,
        &[b"retry: 1500\nretry: +5\nretry: 1e3\nretry:  5\nretry: 5 \nretry:\nretry: -1\nretry: 0x10\n"],
    );
    assert_eq!(out, [Out::Retry(1500)]);
    assert_eq!(parser.retry(), Some(Duration::from_millis(1500)));
    assert_eq!(p(b"retry:7\nretry: 0\n"), [Out::Retry(7), Out::Retry(0)]);
}

#[test]
fn retry_saturates() {
    assert_eq!(
        p(b"retry: 99999999999999999999999999\n"),
        [Out::Retry(u64::MAX)]
    );
}

#[test]
fn id_with_nul_is_ignored() {
    assert_eq!(
        p(b"id: 1\n\nid: 2\0x\ndata: a\n\n"),
        [ev("message", "a", "1")]
    );
}

#[test]
fn last_event_id_persists_across_events_and_finish() {
    let mut parser = Parser::<64, 256>::new();
    let out = feed(&mut parser, &[b"id: 42\ndata: a\n\ndata: b\n\n"]);
    assert_eq!(out, [ev("message", "a", "42"), ev("message", "b", "42")]);
    parser.finish();
    assert_eq!(parser.last_event_id(), "42");
    assert_eq!(
        feed(&mut parser, &[b"data: c\n\n"]),
        [ev("message", "c", "42")]
    );
}

#[test]
fn id_of_an_unfinished_event_is_not_the_resume_point() {
    // The spec's last event ID *string* changes on dispatch only (what `Last-Event-ID` sends).
    let mut parser = Parser::<64, 256>::new();
    let _ = feed(&mut parser, &[b"id: 1\ndata: a\n\nid: 2\ndata: b\n"]);
    parser.finish();
    assert_eq!(parser.last_event_id(), "1");
    assert_eq!(
        feed(&mut parser, &[b"data: c\n\n"]),
        [ev("message", "c", "1")]
    );
}

#[test]
fn unfinished_event_is_discarded_at_finish() {
    let mut parser = Parser::<64, 256>::new();
    assert_eq!(
        feed(&mut parser, &[b"event: x\ndata: a\ndata: partial"]),
        []
    );
    parser.finish();
    assert_eq!(
        feed(&mut parser, &[b"data: b\n\n"]),
        [ev("message", "b", "")]
    );
}

#[test]
fn seeded_last_event_id() {
    let mut parser = Parser::<8, 64>::new();
    assert_eq!(parser.set_last_event_id("17"), Ok(()));
    assert_eq!(parser.last_event_id(), "17");
    assert_eq!(
        feed(&mut parser, &[b"data: a\n\n"]),
        [ev("message", "a", "17")]
    );
    assert_eq!(
        parser.set_last_event_id("123456789"),
        Err(SeedError::TooLong)
    );
    assert_eq!(parser.set_last_event_id("a\0"), Err(SeedError::ContainsNul));
    assert_eq!(parser.set_last_event_id("a\r"), Err(SeedError::ContainsCr));
    assert_eq!(parser.set_last_event_id("a\n"), Err(SeedError::ContainsLf));
    assert_eq!(parser.last_event_id(), "17");
    assert_eq!(parser.set_last_event_id(""), Ok(()));
    assert_eq!(
        feed(&mut parser, &[b"data: b\n\n"]),
        [ev("message", "b", "")]
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    assert_eq!(
        p(b"data: a\xFFb\xC3\n\ndata: \xE2\x82\n\ndata: \xF0\x9F\x98\x80\xE2\x82\xAC\n\n"),
        [
            ev("message", "a\u{FFFD}b\u{FFFD}", ""),
            ev("message", "\u{FFFD}", ""),
            ev("message", "😀€", "")
        ]
    );
    // Maximal subparts: E0 80 is two errors, F0 9F 41 one error then "A".
    assert_eq!(
        p(b"event: \xE0\x80\ndata: \xF0\x9FA\xED\xA0\x80\n\n"),
        [ev(
            "\u{FFFD}\u{FFFD}",
            "\u{FFFD}A\u{FFFD}\u{FFFD}\u{FFFD}",
            ""
        )]
    );
    assert_eq!(
        p(b"id: \xC3\ndata: x\n\n"),
        [ev("message", "x", "\u{FFFD}")]
    );
}

#[test]
fn multibyte_characters_split_in_every_way() {
    let input = "data: é€😀 and €\n\n".as_bytes();
    let want = [ev("message", "é€😀 and €", "")];
    assert_eq!(p(input), want);
    for a in 0..input.len() {
        for b in a..input.len() {
            let chunks = [&input[..a], &input[a..b], &input[b..]];
            assert_eq!(
                feed(&mut Parser::<64, 256>::new(), &chunks),
                want,
                "{a} {b}"
            );
        }
    }
}

#[test]
fn data_overflow_truncates_at_char_boundary() {
    // 7 bytes of room: "ab\n€" is 6, the next "€" does not fit, "x" after it is not taken.
    let out = parse::<16, 7>(
        "event: t\nid: 3\ndata: ab\ndata: €€x\ndata: more\n\ndata: ok\n\n".as_bytes(),
    );
    assert_eq!(
        out,
        [
            Out::Event {
                ty: "t".into(),
                data: "ab\n€".into(),
                id: "3".into(),
                truncated: true
            },
            ev("message", "ok", "3"),
        ]
    );
}

#[test]
fn data_exactly_full_is_not_truncated() {
    assert_eq!(parse::<4, 3>(b"data: abc\n\n"), [ev("message", "abc", "")]);
    let out = parse::<4, 3>(b"data: abc\ndata\n\n");
    assert_eq!(
        out,
        [Out::Event {
            ty: "message".into(),
            data: "abc".into(),
            id: "".into(),
            truncated: true
        }]
    );
}

#[test]
fn long_data_line_needs_no_line_buffer() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10_000));
    input.extend(b"\n\n");
    let out = feed(&mut Parser::<4, 10_000>::new(), &[&input]);
    assert_eq!(out, [ev("message", &"x".repeat(10_000), "")]);
}

#[test]
fn over_long_event_or_id_drops_the_event_but_keeps_the_resume_point() {
    // The `id: 2` of the event with the over-long type still counts (WHATWG dispatch step 1
    // runs whatever the event); the over-long `id:` cannot be kept and leaves 2 in place.
    let input = concat!(
        "id: 1\n",
        "data: kept\n",
        "\n",
        "data: before\n",
        "event: much-too-long\n",
        "data: after\n",
        "id: 2\n",
        "\n",
        "id: 0123456789\n",
        "data: x\n",
        "\n",
        "data: next\n",
        "\n",
    );
    assert_eq!(
        parse::<8, 64>(input.as_bytes()),
        [
            ev("message", "kept", "1"),
            Out::TooLong,
            Out::TooLong,
            ev("message", "next", "2")
        ]
    );
}

#[test]
fn value_of_exactly_line_bytes_fits() {
    assert_eq!(
        parse::<4, 8>(b"event: abcd\nid: wxyz\ndata\n\n"),
        [ev("abcd", "", "wxyz")]
    );
    // U+FFFD takes 3 bytes: a lone invalid byte and one more do not fit 3 bytes.
    assert_eq!(
        parse::<3, 8>(b"id: \xFF\ndata\n\nid: \xFFa\ndata\n\n"),
        [ev("message", "", "\u{FFFD}"), Out::TooLong]
    );
}

#[test]
fn over_long_id_with_nul_is_still_too_long() {
    // Chunk-independent: whether the NUL comes before or after the limit does not matter.
    assert_eq!(parse::<4, 8>(b"id: ab\0cdef\ndata\n\n"), [Out::TooLong]);
    assert_eq!(parse::<4, 8>(b"id: abcdef\0\ndata\n\n"), [Out::TooLong]);
}

#[test]
fn too_long_error_at_end_of_stream_then_finish() {
    let mut parser = Parser::<4, 8>::new();
    // Reported at the blank line; an event the stream never finished is not reported at all
    // (WHATWG discards it anyway), and its `id:` does not count.
    assert_eq!(
        feed(
            &mut parser,
            &[b"event: toolong
id: 9
data: x"]
        ),
        []
    );
    parser.finish();
    assert_eq!(parser.last_event_id(), "");
    assert_eq!(
        feed(&mut parser, &[b"data: a\n\n"]),
        [ev("message", "a", "")]
    );
}

#[test]
fn empty_push_needs_more() {
    let mut parser = Parser::<4, 8>::new();
    let mut empty: &[u8] = &[];
    assert_eq!(parser.push(&mut empty), Ok(Step::NeedMore));
}

#[test]
fn zero_capacity_parser_does_not_panic() {
    let out = parse::<0, 0>(b"event: a\ndata: b\n\n:c\nid\ndata\n\n");
    assert_eq!(
        out,
        [
            Out::TooLong,
            Out::Comment(vec![]),
            Out::Event {
                ty: "message".into(),
                data: "".into(),
                id: "".into(),
                truncated: false
            }
        ]
    );
}

#[test]
fn errors_display() {
    assert!(format!("{}", ParseError::LineTooLong).contains("line limit"));
    assert!(format!("{}", SeedError::TooLong).contains("line limit"));
}

/// A tiny deterministic generator, so the fuzz-like test needs no extra crate.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_streams_do_not_depend_on_chunking() {
    const ALPHABET: &[&[u8]] = &[
        b"data",
        b"event",
        b"id",
        b"retry",
        b":",
        b" ",
        b"\r",
        b"\n",
        b"\r\n",
        b"x",
        b"12",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\xE2\x82",
        b"\xAC",
        b"\xFF",
        "é".as_bytes(),
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..(xorshift(&mut seed) % 40) {
            input.extend_from_slice(
                ALPHABET[(xorshift(&mut seed) % ALPHABET.len() as u64) as usize],
            );
        }
        let _ = parse::<6, 10>(&input);
    }
}

#[cfg(feature = "std")]
#[test]
fn lowered_limits_behave_like_a_parser_built_with_them() {
    let inputs: [&[u8]; 5] = [
        b"event: abcd\nid: wxyz\ndata\n\n",
        b"event: abcde\ndata: x\n\nid: vwxyz\ndata: y\n\n",
        b"data: 123456789\n\ndata: 1234\ndata: 5678\n\n",
        b":a long comment\ndata: \xFF\xFF\xFF\n\n",
        "data: ééééé\n\n".as_bytes(),
    ];
    for input in inputs {
        let mut lowered = Parser::<64, 64>::new();
        lowered.set_limits(4, 8);
        assert_eq!(lowered.limits(), (4, 8));
        assert_eq!(
            feed(&mut lowered, &[input]),
            feed(&mut Parser::<4, 8>::new(), &[input]),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    let mut p = Parser::<4, 8>::new();
    p.set_limits(100, 100);
    assert_eq!(p.limits(), (4, 8), "never above the type's bounds");
    p.set_limits(2, 8);
    assert_eq!(p.set_last_event_id("abc"), Err(SeedError::TooLong));
}

#[test]
fn one_error_per_event_and_the_ids_around_an_over_long_line_count() {
    assert_eq!(
        parse::<4, 8>(b"id: 1\nevent: toolong\nevent: alsotoolong\ndata: x\n\ndata: y\n\n"),
        [Out::TooLong, ev("message", "y", "1")]
    );
    assert_eq!(
        parse::<4, 8>(b"event: toolong\nid: 2\n\ndata: y\n\n"),
        [Out::TooLong, ev("message", "y", "2")]
    );
    // An over-long id after a good one in the same event: the good one stands.
    assert_eq!(
        parse::<4, 8>(b"id: 3\nid: toolong\ndata\n\ndata: y\n\n"),
        [Out::TooLong, ev("message", "y", "3")]
    );
}
