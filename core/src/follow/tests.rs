// Tests mutate a default `Policy` the way other crates must (it is `#[non_exhaustive]`).
#![allow(clippy::field_reassign_with_default)]

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::reconnect::Reason;
use crate::time::Duration;

type F = Follow<64, 256>;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// An owned copy of an [`Output`], for comparing sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
enum O {
    Msg(u64, String),
    State(String),
    Heartbeat(String),
    StartOver(Option<String>),
    Ended(String),
    Other(String, String, String),
    Comment(String),
    Dropped,
    Status(StatusKind, Reason),
}

fn own(o: Output<'_>) -> O {
    match o {
        Output::Message { idx, data, .. } => O::Msg(idx.0, data.into()),
        Output::State { data, .. } => O::State(data.into()),
        Output::Heartbeat(d) => O::Heartbeat(d.into()),
        Output::StartOver { reset } => O::StartOver(reset.map(Into::into)),
        Output::SessionEnded(d) => O::Ended(d.into()),
        Output::Other {
            event_type,
            data,
            id,
            ..
        } => O::Other(event_type.into(), data.into(), id.into()),
        Output::Comment(c) => O::Comment(c.into()),
        Output::Dropped(_) => O::Dropped,
        Output::StatusChanged(s) => O::Status(s.kind, s.reason),
    }
}

fn msg(idx: u64, data: &str) -> O {
    O::Msg(idx, data.into())
}

/// Feeds `bytes` the way the shells do, then drains `poll_output`.
fn feed(f: &mut F, now: Instant, bytes: &[u8]) -> Vec<O> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut calls = 0;
    while !rest.is_empty() {
        if let Some(o) = f.handle_bytes(now, &mut rest) {
            out.push(own(o));
        }
        calls += 1;
        assert!(calls <= bytes.len() + 8, "handle_bytes made no progress");
    }
    out.extend(core::iter::from_fn(|| f.poll_output()).map(own));
    out
}

fn actions(f: &mut F) -> Vec<Action> {
    core::iter::from_fn(|| f.poll_action()).collect()
}

fn outputs(f: &mut F) -> Vec<O> {
    core::iter::from_fn(|| f.poll_output()).map(own).collect()
}

/// Starts (or waits out the backoff), expects a `Connect` from `from`, and opens the stream.
fn open(f: &mut F, now: Instant, from: u64) {
    if f.status().kind == StatusKind::Disabled || f.retry_at().is_none() {
        f.start(now);
    } else {
        f.handle_timeout(f.retry_at().unwrap_or(now));
    }
    let acts = actions(f);
    assert_eq!(acts.last(), Some(&Action::Connect { from: Seq(from) }));
    f.handle_response(now, 200, true);
    let _ = outputs(f);
}

fn message(idx: u64, data: &str) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    write!(s, "id: {idx}\ndata: {data}\n\n").unwrap();
    s
}

/// A session connected to our server: it has seen the `state` (with an epoch) that our server
/// sends first, so message indices are tracked.
fn connected() -> F {
    let mut f = connected_generic();
    let _ = feed(&mut f, at(0), b"event: state\ndata: {\"epoch\":\"e1\"}\n\n");
    f
}

/// A session connected to a server that is not known to index its messages.
fn connected_generic() -> F {
    let mut f = F::new(Policy::default(), 1);
    open(&mut f, at(0), 0);
    f
}

#[test]
fn messages_arrive_in_order_with_their_index() {
    let mut f = connected();
    let stream = [message(0, "a"), message(1, "b"), message(2, "c")].concat();
    assert_eq!(
        feed(&mut f, at(1), stream.as_bytes()),
        [msg(0, "a"), msg(1, "b"), msg(2, "c")]
    );
    assert_eq!(f.resume_from(), Seq(3));
    assert_eq!(f.n_received(), 3);
    assert_eq!(f.last_event_id(), Some("2"));
}

#[test]
fn status_changes_are_reported() {
    let mut f = F::new(Policy::default(), 1);
    assert_eq!(outputs(&mut f), []);
    f.start(at(0));
    assert_eq!(
        outputs(&mut f),
        [O::Status(StatusKind::Connecting, Reason::Connecting)]
    );
    assert_eq!(actions(&mut f), [Action::Connect { from: Seq(0) }]);
    f.handle_response(at(5), 200, true);
    assert_eq!(
        outputs(&mut f),
        [O::Status(StatusKind::Connected, Reason::Connected)]
    );
    f.handle_disconnected(at(6), Disconnect::EndOfStream);
    assert_eq!(
        outputs(&mut f),
        [O::Status(StatusKind::Disconnected, Reason::ServerClosed)]
    );
}

#[test]
fn duplicates_after_reconnect_are_dropped() {
    let mut f = connected();
    let first = [message(0, "a"), message(1, "b"), message(2, "c")].concat();
    let _ = feed(&mut f, at(1), first.as_bytes());
    f.handle_disconnected(at(2), Disconnect::Network);
    assert_eq!(actions(&mut f), [Action::Close]);
    assert_eq!(f.last_event_id(), Some("2"));
    open(&mut f, at(3_000), 3);
    // A server that replays a little too much.
    let replay = [message(1, "b"), message(2, "c"), message(3, "d")].concat();
    assert_eq!(feed(&mut f, at(3_001), replay.as_bytes()), [msg(3, "d")]);
}

#[test]
fn a_gap_closes_and_resumes_at_the_first_missing_index() {
    let mut f = connected();
    let stream = [message(0, "a"), message(2, "c"), message(3, "d")].concat();
    assert_eq!(
        feed(&mut f, at(1), stream.as_bytes()),
        [
            msg(0, "a"),
            O::Status(StatusKind::Disconnected, Reason::ConnectionLost)
        ]
    );
    assert_eq!(actions(&mut f), [Action::Close]);
    // The parser saw id 2, but 1 is missing: sending Last-Event-ID: 2 would skip it.
    assert_eq!(f.last_event_id(), None);
    assert!(feed(&mut f, at(2), message(4, "e").as_bytes()).is_empty());
    open(&mut f, at(2_000), 1);
    let replay = [message(1, "b"), message(2, "c")].concat();
    assert_eq!(
        feed(&mut f, at(2_001), replay.as_bytes()),
        [msg(1, "b"), msg(2, "c")]
    );
}

#[test]
fn a_gap_that_repeats_backs_off() {
    let mut f = connected();
    let mut now = at(0);
    let mut delays = Vec::new();
    for _ in 0..6 {
        let _ = feed(&mut f, now, message(5, "x").as_bytes());
        let until = f.retry_at().expect("backing off");
        delays.push(until - now);
        now = until;
        open(&mut f, now, 0);
    }
    assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
}

#[test]
fn state_epochs_feed_the_tracker() {
    let mut f = connected();
    let s1 = "event: state\ndata: {\"title\":\"t\",\"epoch\":\"e1\",\"message_count\":2}\n\n";
    assert_eq!(
        feed(&mut f, at(1), s1.as_bytes()),
        [O::State(
            "{\"title\":\"t\",\"epoch\":\"e1\",\"message_count\":2}".into()
        )]
    );
    let two = [message(0, "a"), message(1, "b")].concat();
    let _ = feed(&mut f, at(2), two.as_bytes());
    // Same epoch: nothing happens.
    let s1b = "event: state\ndata: {\"epoch\":\"e1\"}\n\n";
    assert_eq!(
        feed(&mut f, at(3), s1b.as_bytes()),
        [O::State("{\"epoch\":\"e1\"}".into())]
    );
    assert_eq!(f.resume_from(), Seq(2));
    // New epoch: State, then StartOver, and the tracker restarts at 0.
    let s2 = "event: state\ndata: {\"epoch\":\"e2\"}\n\n";
    let after = message(0, "new a");
    let stream = [s2, after.as_str()].concat();
    assert_eq!(
        feed(&mut f, at(4), stream.as_bytes()),
        [
            O::State("{\"epoch\":\"e2\"}".into()),
            O::StartOver(None),
            msg(0, "new a")
        ]
    );
    assert_eq!(f.resume_from(), Seq(1));
}

#[test]
fn new_epoch_then_old_numbering_reconnects_from_zero() {
    let mut f = connected();
    let _ = feed(
        &mut f,
        at(1),
        b"event: state\ndata: {\"epoch\":\"old\"}\n\n",
    );
    let old = [message(0, "a"), message(1, "b")].concat();
    let _ = feed(&mut f, at(2), old.as_bytes());
    f.handle_disconnected(at(3), Disconnect::Network);
    let _ = actions(&mut f);
    open(&mut f, at(2_000), 2);
    // The server restarted with a new log that already has 5 messages and replays from 2.
    let stream = [
        "event: state\ndata: {\"epoch\":\"new\"}\n\n",
        message(2, "x").as_str(),
    ]
    .concat();
    let out = feed(&mut f, at(2_001), stream.as_bytes());
    assert_eq!(
        out[..2],
        [O::State("{\"epoch\":\"new\"}".into()), O::StartOver(None)]
    );
    assert!(!out.iter().any(|o| matches!(o, O::Msg(..))), "{out:?}");
    assert_eq!(f.last_event_id(), None);
    assert_eq!(actions(&mut f), [Action::Close]);
    f.handle_timeout(f.retry_at().expect("waiting"));
    assert_eq!(actions(&mut f), [Action::Connect { from: Seq(0) }]);
}

#[test]
fn reset_starts_over_from_what_the_server_replays() {
    let mut f = connected();
    let old = [message(0, "a"), message(1, "b")].concat();
    let _ = feed(&mut f, at(1), old.as_bytes());
    let stream = [
        "event: reset\ndata: {\"epoch\":\"e9\",\"message_count\":12}\n\n",
        message(10, "k").as_str(),
        message(11, "l").as_str(),
    ]
    .concat();
    assert_eq!(
        feed(&mut f, at(2), stream.as_bytes()),
        [
            O::StartOver(Some("{\"epoch\":\"e9\",\"message_count\":12}".into())),
            msg(10, "k"),
            msg(11, "l")
        ]
    );
    assert_eq!(f.resume_from(), Seq(12));
    assert_eq!(f.last_event_id(), Some("11"));
}

#[test]
fn session_ended_disables() {
    let mut f = connected();
    let out = feed(
        &mut f,
        at(1),
        b"event: session_ended\ndata: {\"message\":\"bye\"}\n\n",
    );
    assert_eq!(
        out,
        [
            O::Ended("{\"message\":\"bye\"}".into()),
            O::Status(StatusKind::Disabled, Reason::SessionEnded)
        ]
    );
    assert_eq!(actions(&mut f), [Action::Close]);
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn heartbeat_silence_trips_the_watchdog() {
    let mut f = connected();
    assert_eq!(
        feed(
            &mut f,
            at(15_000),
            b"event: heartbeat\ndata: 1700000000\n\n"
        ),
        [O::Heartbeat("1700000000".into())]
    );
    assert_eq!(f.poll_timeout(), Some(at(60_000)));
    f.handle_timeout(at(59_999));
    assert_eq!(actions(&mut f), []);
    f.handle_timeout(at(60_000));
    assert_eq!(actions(&mut f), [Action::Close]);
    assert_eq!(
        outputs(&mut f),
        [O::Status(StatusKind::Disconnected, Reason::NoHeartbeat)]
    );
}

#[test]
fn comments_keep_the_connection_alive() {
    let mut f = connected();
    assert_eq!(
        feed(&mut f, at(40_000), b":\n\n"),
        [O::Comment(String::new())]
    );
    assert_eq!(f.poll_timeout(), Some(at(85_000)));
}

#[test]
fn retry_field_sets_the_backoff_base() {
    let mut f = connected();
    let _ = feed(&mut f, at(0), b"retry: 5000\n\n");
    f.handle_disconnected(at(10), Disconnect::EndOfStream);
    let wait = f.retry_at().expect("waiting") - at(10);
    // Jitter only adds.
    assert!(
        wait >= Duration::from_secs(5) && wait <= Duration::from_secs(6),
        "{wait}"
    );
}

#[test]
fn responses_open_disable_or_retry() {
    let cases = [
        (404, true, StatusKind::Disabled, Reason::HttpStatus(404)),
        (204, true, StatusKind::Disabled, Reason::HttpStatus(204)),
        (401, true, StatusKind::Disabled, Reason::HttpStatus(401)),
        (200, false, StatusKind::Disabled, Reason::NotEventStream),
        (503, true, StatusKind::Disconnected, Reason::HttpStatus(503)),
        (
            429,
            false,
            StatusKind::Disconnected,
            Reason::HttpStatus(429),
        ),
        (200, true, StatusKind::Connected, Reason::Connected),
    ];
    for (code, es, kind, reason) in cases {
        let mut f = F::new(Policy::default(), 1);
        f.start(at(0));
        let _ = actions(&mut f);
        f.handle_response(at(1), code, es);
        assert_eq!(
            (f.status().kind, f.status().reason),
            (kind, reason),
            "{code}"
        );
    }
}

#[test]
fn a_second_response_is_ignored() {
    let mut f = connected();
    f.handle_response(at(1), 404, true);
    assert_eq!(f.status().kind, StatusKind::Connected);
}

#[test]
fn non_numeric_message_ids_pass_through() {
    let mut f = connected();
    assert_eq!(
        feed(&mut f, at(1), b"id: abc\ndata: x\n\n"),
        [O::Other("message".into(), "x".into(), "abc".into())]
    );
    assert_eq!(f.resume_from(), Seq(0));
    // Not an index: sent back as `Last-Event-ID`, as EventSource does.
    assert_eq!(f.last_event_id(), Some("abc"));
    assert_eq!(
        feed(&mut f, at(1), b"event: custom\ndata: y\n\n"),
        [O::Other("custom".into(), "y".into(), "abc".into())]
    );
}

#[test]
fn bytes_without_an_open_stream_are_discarded() {
    let mut f = F::new(Policy::default(), 1);
    assert_eq!(feed(&mut f, at(0), message(0, "a").as_bytes()), []);
    f.start(at(0));
    let _ = actions(&mut f);
    let _ = outputs(&mut f);
    // Connecting, no response yet.
    assert_eq!(feed(&mut f, at(1), message(0, "a").as_bytes()), []);
    assert_eq!(f.resume_from(), Seq(0));
}

#[test]
fn a_half_event_is_discarded_on_reconnect() {
    let mut f = connected();
    let _ = feed(&mut f, at(1), b"id: 0\ndata: half");
    f.handle_disconnected(at(2), Disconnect::Network);
    let _ = actions(&mut f);
    open(&mut f, at(2_000), 0);
    assert_eq!(
        feed(&mut f, at(2_001), message(0, "whole").as_bytes()),
        [msg(0, "whole")]
    );
}

#[test]
fn outputs_do_not_depend_on_chunking() {
    let stream = [
        "retry: 2000\n\n",
        "event: state\ndata: {\"epoch\":\"e1\"}\n\n",
        message(0, "a").as_str(),
        ":keepalive\n\n",
        message(0, "a").as_str(),
        message(1, "b").as_str(),
        "event: heartbeat\ndata: 1\n\n",
        "event: state\ndata: {\"epoch\":\"e2\"}\n\n",
        message(0, "c").as_str(),
    ]
    .concat();
    let whole = {
        let mut f = connected();
        feed(&mut f, at(1), stream.as_bytes())
    };
    assert_eq!(whole.len(), 8, "{whole:?}");
    for size in [1, 2, 3, 7, 13] {
        let mut f = connected();
        let mut got = Vec::new();
        for chunk in stream.as_bytes().chunks(size) {
            got.extend(feed(&mut f, at(1), chunk));
        }
        assert_eq!(got, whole, "chunks of {size}");
    }
}

#[test]
fn resumes_from_a_stored_point() {
    let mut f = F::with_resume(Policy::default(), 1, Seq(41));
    f.start(at(0));
    assert_eq!(actions(&mut f), [Action::Connect { from: Seq(41) }]);
    assert_eq!(f.last_event_id(), None);
}

#[test]
fn over_long_ids_are_counted_drops() {
    let mut f = connected();
    let long = [
        "id: ",
        "9".repeat(100).as_str(),
        "\ndata: x\n\n",
        message(0, "a").as_str(),
    ]
    .concat();
    assert_eq!(
        feed(&mut f, at(1), long.as_bytes()),
        [O::Dropped, msg(0, "a")]
    );
    assert_eq!(f.n_dropped(), 1);
}

#[test]
fn an_over_long_type_is_reported_and_the_resume_point_survives() {
    // The smallest line bound a session accepts (53); the type is longer.
    let mut f = Follow::<{ crate::seq::MAX_SERVER_ID_LEN }, 256>::new(Policy::default(), 1);
    f.start(at(0));
    let _ = f.poll_action();
    f.handle_response(at(0), 200, true);
    let long_type = "t".repeat(crate::seq::MAX_SERVER_ID_LEN + 1);
    let input = std::format!("event: {long_type}\nid: e7\ndata: x\n\n: hi\n");
    let mut rest: &[u8] = input.as_bytes();
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(o) = f.handle_bytes(at(1), &mut rest) {
            out.push(own(o));
        }
    }
    assert_eq!(
        out,
        [
            O::Status(StatusKind::Connected, Reason::Connected),
            O::Dropped,
            O::Comment(" hi".into())
        ]
    );
    assert_eq!(f.last_event_id(), Some("e7"));
}

#[test]
fn truncated_data_is_marked_on_other_events_too() {
    let mut f = Follow::<64, 4>::new(Policy::default(), 1);
    f.start(at(0));
    let _ = f.poll_action();
    f.handle_response(at(0), 200, true);
    let mut rest: &[u8] = b"event: tool\ndata: 123456\n\n";
    let mut seen = None;
    while !rest.is_empty() {
        if let Some(Output::Other {
            data, truncated, ..
        }) = f.handle_bytes(at(1), &mut rest)
        {
            seen = Some((data.len(), truncated));
        }
    }
    assert_eq!(seen, Some((4, true)));
}

#[test]
fn a_seeded_last_event_id_goes_out_until_the_stream_sets_one() {
    let mut f = connected_generic();
    assert_eq!(f.set_last_event_id("abc-7"), Ok(()));
    assert_eq!(f.last_event_id(), Some("abc-7"));
    assert!(f.set_last_event_id("a\nb").is_err());
    assert_eq!(feed(&mut f, at(1), b"id: 3-9\ndata: x\n\n").len(), 1);
    assert_eq!(f.last_event_id(), Some("3-9"));
}

#[test]
fn epoch_is_read_from_the_top_level_only() {
    let cases: &[(&str, Option<&str>)] = &[
        (r#"{"epoch":"e1"}"#, Some("e1")),
        (r#" { "a" : 1 , "epoch" : "e2" } "#, Some("e2")),
        (r#"{"x":{"epoch":"inner"},"epoch":"outer"}"#, Some("outer")),
        (
            r#"{"x":[1,{"epoch":"no"}],"y":"}\"{","epoch":"ok"}"#,
            Some("ok"),
        ),
        (r#"{"s":"a\"b","epoch":"e\"3"}"#, Some(r#"e\"3"#)),
        (r#"{"x":{"epoch":"inner"}}"#, None),
        (r#"{"epoch":5}"#, None),
        (r#"{"epoch":"trunc"#, None),
        (r#"{"a":tru"#, None),
        (r#"[{"epoch":"e"}]"#, None),
        ("", None),
        ("{", None),
        (r#"{"a":]"#, None),
        (r#"{"a":}"#, None),
        (r#"{"a" "epoch":"e"}"#, None),
    ];
    for (json, want) in cases {
        assert_eq!(top_level_str(json, "epoch"), *want, "{json}");
    }
}

#[test]
fn json_scanner_never_panics_on_prefixes() {
    let json = r#"{"a":[1,2,{"b":"c\\\"d"}],"n":-1.5e3,"t":true,"epoch":"ep"}"#;
    for end in 0..=json.len() {
        let _ = top_level_str(&json[..end], "epoch");
    }
    assert_eq!(top_level_str(json, "epoch"), Some("ep"));
}

#[test]
fn r5_a_generic_server_is_followed_without_sequence_accounting() {
    // Timestamps or ids from 1 are not indices of our log: no gap, no dedup, passed through.
    let mut f = connected_generic();
    let stream = [message(1_732_458_000_123, "a"), message(1, "b")].concat();
    assert_eq!(
        feed(&mut f, at(1), stream.as_bytes()),
        [
            O::Other("message".into(), "a".into(), "1732458000123".into()),
            O::Other("message".into(), "b".into(), "1".into()),
        ]
    );
    assert_eq!(f.status().kind, StatusKind::Connected);
    assert_eq!(f.last_event_id(), Some("1"));
}

#[test]
fn r5_our_server_is_tracked_from_its_first_state() {
    let mut f = connected();
    assert_eq!(
        feed(&mut f, at(1), message(0, "a").as_bytes()),
        [msg(0, "a")]
    );
    // A skipped index is a gap: not delivered, the connection is closed.
    assert_eq!(
        feed(&mut f, at(2), message(2, "c").as_bytes()),
        [O::Status(StatusKind::Disconnected, Reason::ConnectionLost)]
    );
    assert_ne!(f.status().kind, StatusKind::Connected);
    assert_eq!(f.last_event_id(), None, "2 would make the server skip 1");
}

#[test]
fn r5_a_resumed_session_tracks_at_once() {
    let mut f = F::with_resume(Policy::default(), 1, Seq(5));
    open(&mut f, at(0), 5);
    assert_eq!(
        feed(&mut f, at(1), message(7, "x").as_bytes()),
        [O::Status(StatusKind::Disconnected, Reason::ConnectionLost)]
    );
    assert_eq!(f.resume_from(), Seq(5));
    assert_eq!(
        f.last_event_id(),
        None,
        "7 would make the server skip 5 and 6"
    );
}

#[test]
fn r5_ids_that_are_not_indices_are_sent_back() {
    let mut f = connected();
    let stream = "event: tick\nid: abc-1\ndata: x\n\nid: 7\n\nid: zz\n\n";
    let _ = feed(&mut f, at(1), stream.as_bytes());
    assert_eq!(f.last_event_id(), Some("zz"));
    // An index-shaped id from a server that does not index its messages is sent as is.
    let mut g = connected_generic();
    let _ = feed(&mut g, at(1), b"event: tick\nid: 41\ndata: x\n\n");
    assert_eq!(g.last_event_id(), Some("41"));
}

#[test]
fn r5_an_id_only_block_counts_and_an_unfinished_one_does_not() {
    let mut f = connected_generic();
    let stream = "event: tick\nid: 5\ndata: a\n\nid: 7\n\nevent: tick\nid: 8\ndata: partial";
    let _ = feed(&mut f, at(1), stream.as_bytes());
    f.handle_disconnected(at(2), Disconnect::Network);
    assert_eq!(actions(&mut f), [Action::Close]);
    assert_eq!(f.last_event_id(), Some("7"));
}

#[test]
fn epoch_qualified_ids_resume_with_their_epoch() {
    let mut f = connected_generic();
    let e = "0123456789abcdef0123456789abcdef";
    let state = std::format!("event: state\ndata: {{\"epoch\":\"{e}\"}}\n\n");
    let mut out = feed(&mut f, at(0), state.as_bytes());
    assert_eq!(f.resume_epoch(), None, "no id yet");
    let msgs = std::format!(
        "event: message\nid: {e}-0\ndata: a\n\nevent: message\nid: {e}-1\ndata: b\n\n"
    );
    out.extend(feed(&mut f, at(1), msgs.as_bytes()));
    assert!(out.ends_with(&[msg(0, "a"), msg(1, "b")]), "{out:?}");
    assert_eq!(f.resume_from(), Seq(2));
    assert_eq!(f.last_event_id(), Some(std::format!("{e}-1").as_str()));
    assert_eq!(f.resume_epoch(), Some(e));
    // A duplicate is still a duplicate with the epoch in its id.
    let dup = std::format!("event: message\nid: {e}-1\ndata: b\n\n");
    assert_eq!(feed(&mut f, at(2), dup.as_bytes()), []);
    // The server moved to another epoch: the old one is not sent back as ours.
    let other = "event: state\ndata: {\"epoch\":\"fedcba\"}\n\n";
    let out = feed(&mut f, at(3), other.as_bytes());
    assert!(out.contains(&O::StartOver(None)), "{out:?}");
    assert_eq!(f.resume_epoch(), None);
}

#[test]
fn a_state_over_the_data_bound_says_so() {
    let mut f = connected();
    let big = std::format!(
        "event: state\ndata: {{\"title\":\"{}\"}}\n\n",
        "x".repeat(300)
    );
    let mut rest = big.as_bytes();
    let mut seen = None;
    while !rest.is_empty() {
        if let Some(Output::State { data, truncated }) = f.handle_bytes(at(1), &mut rest) {
            seen = Some((data.len(), truncated));
        }
    }
    assert_eq!(seen, Some((256, true)), "cut at DATA, and said so");
    let small = feed(&mut f, at(2), b"event: state\ndata: {}\n\n");
    assert_eq!(small, [O::State("{}".into())]);
}
