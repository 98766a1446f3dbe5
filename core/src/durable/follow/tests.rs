// Tests mutate a default `Policy` the way other crates must (it is `#[non_exhaustive]`).
#![allow(clippy::field_reassign_with_default)]

use std::format;
use std::string::String;
use std::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::*;
use crate::reconnect::Reason;
use crate::time::Duration;

type F = Follow<64, 1024>;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn off(p: u64) -> String {
    format!("0000000000000000_{p:016}")
}

/// An owned copy of an [`Output`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum O {
    Data(Vec<u8>, Option<String>),
    UpToDate(String),
    Closed(String),
    Failed(FollowError),
    Status(StatusKind, Reason),
}

fn own(o: Output<'_>) -> O {
    match o {
        Output::Data { data, next } => O::Data(data.into(), next.map(Into::into)),
        Output::UpToDate { next } => O::UpToDate(next.into()),
        Output::Closed { next } => O::Closed(next.into()),
        Output::Failed(e) => O::Failed(e),
        Output::StatusChanged(s) => O::Status(s.kind, s.reason),
    }
}

/// Feeds `bytes` as the shells do, then drains `poll_output`.
fn feed(f: &mut F, now: Instant, bytes: &[u8]) -> Vec<O> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut calls = 0;
    while !rest.is_empty() {
        if let Some(o) = f.handle_bytes(now, &mut rest) {
            out.push(own(o));
        }
        calls += 1;
        assert!(calls < 100_000, "handle_bytes must make progress");
    }
    while let Some(o) = f.poll_output() {
        out.push(own(o));
    }
    out
}

fn data_event(text: &str) -> String {
    let mut s = String::from("event: data\n");
    for line in text.split('\n') {
        s.push_str("data:");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s
}

fn control(next: &str, cursor: Option<&str>, up_to_date: bool, closed: bool) -> String {
    let mut json = format!(r#"{{"streamNextOffset":"{next}""#);
    if let Some(c) = cursor {
        json.push_str(&format!(r#","streamCursor":"{c}""#));
    }
    if up_to_date {
        json.push_str(r#","upToDate":true"#);
    }
    if closed {
        json.push_str(r#","streamClosed":true"#);
    }
    json.push('}');
    format!("event: control\ndata:{json}\n\n")
}

/// A session started and connected at `now` (the first request's actions taken).
fn connected(start: &str, base64: bool) -> F {
    let mut f = F::new(Policy::default(), 7, start).unwrap();
    f.start(at(0));
    assert_eq!(f.poll_action(), Some(Action::Connect));
    assert_eq!(f.poll_action(), None);
    f.handle_response(at(1), 200, true, base64);
    while f.poll_output().is_some() {}
    f
}

fn data_of(out: &[O]) -> Vec<u8> {
    out.iter()
        .filter_map(|o| match o {
            O::Data(d, _) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn data_is_handed_out_with_the_offset_its_control_event_confirms() {
    let mut f = connected("-1", false);
    assert_eq!(f.offset(), "-1");
    assert_eq!(f.cursor(), None);
    let out = feed(&mut f, at(2), data_event("hello").as_bytes());
    assert_eq!(out, [], "held until its control event");
    let out = feed(
        &mut f,
        at(3),
        control(&off(5), Some("77"), true, false).as_bytes(),
    );
    assert_eq!(
        out,
        [
            O::Data(b"hello".to_vec(), Some(off(5))),
            O::UpToDate(off(5))
        ]
    );
    assert_eq!((f.offset(), f.cursor()), (off(5).as_str(), Some("77")));
    // Up to date is an edge: a second control that says so again is silent.
    let out = feed(
        &mut f,
        at(4),
        control(&off(5), Some("78"), true, false).as_bytes(),
    );
    assert_eq!(out, []);
    assert_eq!(f.cursor(), Some("78"));
}

#[test]
fn several_data_events_before_one_control_come_out_in_order_the_last_with_the_offset() {
    let mut f = connected("-1", false);
    let bytes = [
        data_event("a"),
        data_event("bc"),
        control(&off(3), Some("1"), false, false),
    ]
    .concat();
    let out = feed(&mut f, at(2), bytes.as_bytes());
    assert_eq!(
        out,
        [
            O::Data(b"a".to_vec(), None),
            O::Data(b"bc".to_vec(), Some(off(3)))
        ]
    );
}

#[test]
fn a_cut_between_data_and_its_control_neither_loses_nor_repeats_it() {
    let mut f = connected("-1", false);
    let mut printed = Vec::new();
    let first = [
        data_event("one "),
        control(&off(4), Some("1"), false, false),
    ]
    .concat();
    printed.extend(data_of(&feed(&mut f, at(2), first.as_bytes())));
    // "two " arrives, the connection breaks before its control event.
    printed.extend(data_of(&feed(&mut f, at(3), data_event("two ").as_bytes())));
    f.handle_disconnected(at(4), Disconnect::Network);
    assert_eq!(
        f.offset(),
        off(4),
        "the resume point is the last confirmed one"
    );
    let now = f.poll_timeout().unwrap();
    f.handle_timeout(now);
    assert_eq!(f.poll_action(), Some(Action::Close));
    assert_eq!(f.poll_action(), Some(Action::Connect));
    f.handle_response(now, 200, true, false);
    // The server sends "two " again from offset 4.
    let again = [data_event("two "), control(&off(8), Some("2"), true, false)].concat();
    printed.extend(data_of(&feed(&mut f, now, again.as_bytes())));
    assert_eq!(printed, b"one two ");
    assert_eq!(f.cursor(), Some("2"));
}

#[test]
fn a_routine_end_after_a_control_event_reconnects_at_once_a_storm_backs_off() {
    let mut f = connected("-1", false);
    let _ = feed(
        &mut f,
        at(2),
        control(&off(0), Some("1"), true, false).as_bytes(),
    );
    f.handle_disconnected(at(3), Disconnect::EndOfStream);
    assert_eq!(f.poll_action(), Some(Action::Close));
    assert_eq!(f.poll_action(), Some(Action::Connect), "no backoff");
    assert_eq!(f.status().kind, StatusKind::Connecting);
    // Second quick end in a row: backoff.
    f.handle_response(at(4), 200, true, false);
    let _ = feed(
        &mut f,
        at(5),
        control(&off(0), Some("2"), true, false).as_bytes(),
    );
    f.handle_disconnected(at(6), Disconnect::EndOfStream);
    assert_eq!(f.poll_action(), Some(Action::Close));
    assert_eq!(f.poll_action(), None);
    assert_eq!(f.status().kind, StatusKind::Disconnected);
    assert!(f.retry_at().unwrap() >= at(6) + Duration::from_secs(1));
}

#[test]
fn a_long_lived_response_that_ends_resets_the_count_and_resumes_at_once() {
    let mut p = Policy::default();
    p.healthy_after = Duration::from_secs(10);
    let mut f = F::new(p, 1, "-1").unwrap();
    f.start(at(0));
    let mut now = at(0);
    for round in 0..5u64 {
        let actions: Vec<Action> = core::iter::from_fn(|| f.poll_action()).collect();
        assert_eq!(actions.last(), Some(&Action::Connect), "round {round}");
        f.handle_response(now, 200, true, false);
        let _ = feed(
            &mut f,
            now,
            control(&off(0), Some("1"), true, false).as_bytes(),
        );
        // The server says nothing for 60 s (no heartbeats in this protocol) and ends.
        now = now + Duration::from_secs(60);
        f.handle_disconnected(now, Disconnect::EndOfStream);
        assert_eq!(
            f.status().kind,
            StatusKind::Connecting,
            "round {round}: no backoff"
        );
    }
}

#[test]
fn an_end_before_any_control_event_backs_off() {
    let mut f = connected("-1", false);
    let _ = feed(&mut f, at(2), data_event("x").as_bytes());
    f.handle_disconnected(at(3), Disconnect::EndOfStream);
    assert_eq!(f.status().kind, StatusKind::Disconnected);
    assert_eq!(f.status().reason, Reason::ServerClosed);
}

#[test]
fn stream_closed_hands_out_the_last_data_then_closed_and_stops() {
    let mut f = connected("-1", false);
    let bytes = [data_event("bye"), control(&off(3), None, false, true)].concat();
    let out = feed(&mut f, at(2), bytes.as_bytes());
    assert_eq!(
        out,
        [
            O::Data(b"bye".to_vec(), Some(off(3))),
            O::Closed(off(3)),
            O::Status(StatusKind::Disabled, Reason::Stopped),
        ]
    );
    assert!(f.is_closed());
    assert_eq!(f.poll_action(), Some(Action::Close));
    // The server then ends the response; nothing reconnects, `start` does nothing.
    f.handle_disconnected(at(3), Disconnect::EndOfStream);
    f.start(at(4));
    assert_eq!(f.poll_action(), None);
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn not_found_and_other_refusals_stop_as_reconnect_says() {
    for (status, kind) in [
        (404, StatusKind::Disabled),
        (401, StatusKind::Disabled),
        (400, StatusKind::Disabled),
        (503, StatusKind::Disconnected),
        (429, StatusKind::Disconnected),
    ] {
        let mut f = F::new(Policy::default(), 7, "-1").unwrap();
        f.start(at(0));
        let _ = f.poll_action();
        f.handle_response(at(1), status, false, false);
        assert_eq!(f.status().kind, kind, "{status}");
        assert_eq!(f.status().reason, Reason::HttpStatus(status));
    }
    let mut f = F::new(Policy::default(), 7, "-1").unwrap();
    f.start(at(0));
    let _ = f.poll_action();
    f.handle_response(at(1), 200, false, false);
    assert_eq!(f.status().reason, Reason::NotEventStream);
}

#[test]
fn base64_data_is_decoded_line_breaks_removed() {
    let payload: Vec<u8> = (0u8..=255).collect();
    let b64 = STANDARD.encode(&payload);
    // Split across `data:` lines at odd places, as servers may.
    let split = format!("{}\n{}\n{}", &b64[..5], &b64[5..77], &b64[77..]);
    let mut f = connected("-1", true);
    let bytes = [
        data_event(&split),
        control(&off(256), Some("1"), true, false),
    ]
    .concat();
    let out = feed(&mut f, at(2), bytes.as_bytes());
    assert_eq!(data_of(&out), payload);
}

#[test]
fn bad_base64_fails_and_keeps_the_resume_point() {
    for bad in ["abc", "a===", "ab!d", "YQ==YQ=="] {
        let mut f = connected("-1", true);
        let bytes = [data_event(bad), control(&off(1), Some("1"), true, false)].concat();
        let out = feed(&mut f, at(2), bytes.as_bytes());
        assert_eq!(out[0], O::Failed(FollowError::BadBase64), "{bad}");
        assert_eq!(f.failure(), Some(FollowError::BadBase64));
        assert_eq!(f.offset(), "-1");
        assert_eq!(f.status().kind, StatusKind::Disabled);
    }
}

#[test]
fn data_over_the_bound_fails_rather_than_hand_out_part_of_it() {
    let mut f = connected("-1", false);
    let big = "x".repeat(700);
    let bytes = [
        data_event(&big),
        data_event(&big),
        control(&off(1400), None, false, false),
    ]
    .concat();
    let out = feed(&mut f, at(2), bytes.as_bytes());
    assert_eq!(out[0], O::Failed(FollowError::TooLarge));
    assert_eq!(data_of(&out), b"");
    // One event larger than the parser's bound: the parser cuts it; refused too.
    let mut f = connected("-1", false);
    let out = feed(&mut f, at(2), data_event(&"y".repeat(2000)).as_bytes());
    assert_eq!(out[0], O::Failed(FollowError::TooLarge));
}

#[test]
fn control_events_are_read_leniently_and_refused_without_an_offset() {
    let c = ControlRef::parse(
        r#" { "x": {"a": [1, "}]"]}, "streamCursor": 42, "upToDate": true,
             "streamNextOffset": "0_1", "streamClosed": false } "#,
    )
    .unwrap();
    assert_eq!(
        c,
        ControlRef {
            next: "0_1",
            cursor: Some("42"),
            up_to_date: true,
            closed: false
        }
    );
    for bad in [
        "",
        "{",
        "[]",
        r#"{"streamNextOffset":1}"#,
        r#"{"streamCursor":"1"}"#,
        r#"{"streamNextOffset":"1""#,
        r#"{"streamNextOffset" "1"}"#,
    ] {
        assert_eq!(
            ControlRef::parse(bad),
            Err(FollowError::BadControl),
            "{bad}"
        );
    }
    let mut f = connected("-1", false);
    let out = feed(
        &mut f,
        at(2),
        b"event: control\ndata:{\"upToDate\":true}\n\n",
    );
    assert_eq!(out[0], O::Failed(FollowError::BadControl));
}

#[test]
fn offsets_are_opaque_bounded_text() {
    assert!(F::new(Policy::default(), 1, "now").is_ok());
    assert!(F::new(Policy::default(), 1, "abc_123-x").is_ok());
    for bad in ["", "a\nb", "a\\b"] {
        assert_eq!(
            F::new(Policy::default(), 1, bad).err(),
            Some(FollowError::BadOffset)
        );
    }
    let long = "1".repeat(MAX_OFFSET_LEN + 1);
    assert_eq!(
        F::new(Policy::default(), 1, &long).err(),
        Some(FollowError::BadOffset)
    );
    let mut f = connected("now", false);
    let out = feed(
        &mut f,
        at(2),
        control(&long, Some("1"), true, false).as_bytes(),
    );
    assert_eq!(out[0], O::Failed(FollowError::BadOffset));
    assert_eq!(f.offset(), "now");
}

#[test]
fn more_events_than_the_table_are_joined_never_lost() {
    let mut f = connected("-1", false);
    let mut bytes = String::new();
    for i in 0..(MAX_BATCH_EVENTS + 5) {
        bytes.push_str(&data_event(&format!("{i},")));
    }
    bytes.push_str(&control(&off(1), Some("1"), false, false));
    let out = feed(&mut f, at(2), bytes.as_bytes());
    let want: String = (0..(MAX_BATCH_EVENTS + 5))
        .map(|i| format!("{i},"))
        .collect();
    assert_eq!(data_of(&out), want.as_bytes());
    assert_eq!(out.len(), MAX_BATCH_EVENTS);
}

#[test]
fn the_reader_alone_keeps_confirmed_data_that_was_not_handed_out_yet() {
    let mut r = Reader::<64>::new("-1").unwrap();
    r.handle_response(Encoding::Text);
    r.handle_event("data", "ab", false).unwrap();
    r.handle_event(
        "control",
        r#"{"streamNextOffset":"2","streamCursor":"c"}"#,
        false,
    )
    .unwrap();
    // More data before the caller drained, then the connection is lost.
    r.handle_event("data", "cd", false).unwrap();
    r.handle_connection_lost();
    let mut got = Vec::new();
    while let Some(o) = r.poll_output() {
        got.push(own(o));
    }
    assert_eq!(got, [O::Data(b"ab".to_vec(), Some("2".into()))]);
    r.handle_event("data", "cd", false).unwrap();
    r.handle_event(
        "control",
        r#"{"streamNextOffset":"4","upToDate":true}"#,
        false,
    )
    .unwrap();
    let mut got = Vec::new();
    while let Some(o) = r.poll_output() {
        got.push(own(o));
    }
    assert_eq!(
        got,
        [
            O::Data(b"cd".to_vec(), Some("4".into())),
            O::UpToDate("4".into())
        ]
    );
    assert_eq!(
        r.cursor(),
        Some("c"),
        "a control without a cursor keeps the last one"
    );
}

/// A server transcript for `chunks` appended one by one: one data event and its control each.
fn transcript(chunks: &[Vec<u8>], base64: bool) -> Vec<(usize, String)> {
    let mut pos = 0;
    chunks
        .iter()
        .map(|c| {
            pos += c.len();
            let text = if base64 {
                STANDARD.encode(c)
            } else {
                String::from_utf8(c.clone()).unwrap()
            };
            (
                pos,
                [
                    data_event(&text),
                    control(&off(pos as u64), Some("1"), false, false),
                ]
                .concat(),
            )
        })
        .collect()
}

proptest! {
    /// Whatever the connection does (cut anywhere, any number of times, the bytes split
    /// anyhow), every appended byte is handed out exactly once, in order, and the session
    /// resumes from the last offset a control event confirmed.
    #[test]
    fn every_byte_exactly_once_across_cuts(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 1..12),
        cuts in prop::collection::vec(0usize..2000, 0..6),
        split in 1usize..50,
        base64 in any::<bool>(),
    ) {
        let chunks: Vec<Vec<u8>> = if base64 {
            chunks
        } else {
            // Text streams: printable ASCII without line breaks (SSE cannot carry CR as is).
            chunks.into_iter().map(|c| c.into_iter().map(|b| b'a' + b % 26).collect()).collect()
        };
        let want: Vec<u8> = chunks.concat();
        let script = transcript(&chunks, base64);
        let mut policy = Policy::default();
        policy.max_retries = None;
        let mut f = F::new(policy, 3, "-1").unwrap();
        let mut now = at(0);
        f.start(now);
        let mut got = Vec::new();
        let mut cuts = cuts.into_iter();
        for _attempt in 0..100 {
            while let Some(a) = f.poll_action() { let _ = a; }
            f.handle_response(now, 200, true, base64);
            // The server answers from the offset asked for.
            let from = if f.offset() == "-1" {
                0
            } else {
                f.offset()[17..].parse::<usize>().unwrap()
            };
            let body: String = script
                .iter()
                .filter(|(end, _)| *end > from)
                .map(|(_, ev)| ev.as_str())
                .collect();
            let body = body.as_bytes();
            let cut = cuts.next().map_or(body.len(), |c| c.min(body.len()));
            for piece in body[..cut].chunks(split) {
                for o in feed(&mut f, now, piece) {
                    prop_assert!(!matches!(o, O::Failed(_)), "{:?}", o);
                    if let O::Data(d, _) = o { got.extend(d); }
                }
            }
            if got.len() == want.len() && cut == body.len() {
                break;
            }
            f.handle_disconnected(now, Disconnect::Network);
            now = f.poll_timeout().unwrap_or(now);
            f.handle_timeout(now);
        }
        prop_assert_eq!(got, want.clone());
        prop_assert_eq!(f.offset(), off(want.len() as u64));
    }

    /// Arbitrary bytes never panic and never hand out more than the data bound at once.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000), base64 in any::<bool>()) {
        let mut f = connected("-1", base64);
        for o in feed(&mut f, at(2), &bytes) {
            if let O::Data(d, _) = o {
                prop_assert!(d.len() <= 1024);
            }
        }
    }
}
