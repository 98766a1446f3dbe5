use super::*;
use crate::event::{Comment, EventId, EventName, Frame};
use crate::time::Duration;

fn name(s: &str) -> EventName<'_> {
    EventName::new(s).unwrap()
}
fn id(s: &str) -> EventId<'_> {
    EventId::new(s).unwrap()
}

/// `vectors! { test_name: frame => b"expected", ... }`: each frame must encode to exactly the
/// expected bytes, `encoded_len` must agree, and one byte less must be refused untouched.
macro_rules! vectors {
    ($($test:ident: $frame:expr => $expected:expr;)+) => {$(
        #[test]
        fn $test() {
            let frame: Frame<'_> = $frame;
            let expected: &[u8] = $expected;
            assert_eq!(frame.encoded_len(), expected.len(), "encoded_len");
            let mut buf = [0xAAu8; 512];
            let n = frame.encode(&mut buf).unwrap();
            assert_eq!(
                std::str::from_utf8(&buf[..n]).unwrap(),
                std::str::from_utf8(expected).unwrap()
            );
            assert!(buf[n..].iter().all(|&b| b == 0xAA), "wrote past the frame");
            let mut short = [0x55u8; 512];
            let err = frame.encode(&mut short[..expected.len() - 1]).unwrap_err();
            assert_eq!(err, BufferTooSmall { needed: expected.len() });
            assert!(short.iter().all(|&b| b == 0x55), "partial write on error");
        }
    )+};
}

vectors! {
    empty_frame_is_a_blank_line: Frame::new() => b"\n";
    data_only: Frame::new().data("hello") => b"data: hello\n\n";
    empty_data_is_one_empty_line: Frame::new().data("") => b"data: \n\n";
    leading_space_is_kept_after_separator: Frame::new().data(" x") => b"data:  x\n\n";
    full_frame_in_wire_order: Frame::new()
        .comment(Comment::new("hi").unwrap())
        .retry(Duration::from_millis(1500))
        .event(name("message"))
        .id(id("42"))
        .data("{\"idx\":42}")
        => concat!(
            ": hi\n",
            "retry: 1500\n",
            "event: message\n",
            "id: 42\n",
            "data: {\"idx\":42}\n",
            "\n",
        ).as_bytes();
    lf_splits_data: Frame::new().data("a\nb") => b"data: a\ndata: b\n\n";
    cr_splits_data: Frame::new().data("a\rb") => b"data: a\ndata: b\n\n";
    crlf_is_one_break: Frame::new().data("a\r\nb") => b"data: a\ndata: b\n\n";
    lf_cr_is_two_breaks: Frame::new().data("a\n\rb") => b"data: a\ndata: \ndata: b\n\n";
    trailing_break_gives_empty_line: Frame::new().data("a\n") => b"data: a\ndata: \n\n";
    leading_break_gives_empty_line: Frame::new().data("\na") => b"data: \ndata: a\n\n";
    only_breaks: Frame::new().data("\r\n\r\n") => b"data: \ndata: \ndata: \n\n";
    trailing_cr: Frame::new().data("x\r") => b"data: x\ndata: \n\n";
    empty_id_resets: Frame::new().id(id("")).data("x") => b"id: \ndata: x\n\n";
    empty_comment: Frame::new().comment(Comment::new("").unwrap()) => b": \n\n";
    comment_may_hold_nul: Frame::new().comment(Comment::new("a\0b").unwrap()) => b": a\0b\n\n";
    retry_zero: Frame::new().retry(Duration::ZERO) => b"retry: 0\n\n";
    retry_max: Frame::new().retry(Duration::MAX) => b"retry: 18446744073709551615\n\n";
    retry_decade_boundary: Frame::new().retry(Duration::from_millis(1000)) => b"retry: 1000\n\n";
    event_without_data: Frame::new().event(name("ping")) => b"event: ping\n\n";
    utf8_data: Frame::new().data("h\u{e9}llo \u{1F600}") => "data: h\u{e9}llo \u{1F600}\n\n".as_bytes();
}

#[test]
fn keepalive_is_an_empty_comment_and_blank_line() {
    assert_eq!(KEEPALIVE, b":\n\n");
}

#[test]
fn decimal_digits_match_len() {
    for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX / 10, u64::MAX] {
        let mut buf = [0; U64_DIGITS];
        let digits = decimal(n, &mut buf);
        assert_eq!(digits, std::format!("{n}").as_bytes());
        assert_eq!(decimal_len(n), digits.len());
    }
}

#[test]
fn data_lines_join_back_with_lf() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[""]),
        ("a", &["a"]),
        ("a\nb\rc\r\nd", &["a", "b", "c", "d"]),
        ("\r", &["", ""]),
        ("\r\r\n", &["", "", ""]),
    ];
    for (data, lines) in cases {
        let got: std::vec::Vec<&[u8]> = DataLines::new(data).collect();
        let want: std::vec::Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        assert_eq!(got, want, "{data:?}");
    }
}

#[test]
fn encode_into_exact_buffer() {
    let frame = Frame::new().event(name("state")).data("{}");
    let mut buf = std::vec![0u8; frame.encoded_len()];
    assert_eq!(frame.encode(&mut buf), Ok(buf.len()));
    assert_eq!(buf, b"event: state\ndata: {}\n\n");
}

#[test]
fn empty_output_refused() {
    assert_eq!(
        Frame::new().encode(&mut []),
        Err(BufferTooSmall { needed: 1 })
    );
}
