use super::*;
use std::string::ToString;

#[test]
fn parse_index_accepts_plain_digits() {
    assert_eq!(parse_index("0"), Ok(Seq(0)));
    assert_eq!(parse_index("42"), Ok(Seq(42)));
    assert_eq!(parse_index("007"), Ok(Seq(7)));
    assert_eq!(parse_index("18446744073709551615"), Ok(Seq(u64::MAX)));
}

#[test]
fn parse_index_refuses_everything_else() {
    for s in [
        "", "-", "+1", " 1", "1 ", "1.0", "0x10", "1e3", "abc", "\u{661}", "--1", "-a",
    ] {
        assert_eq!(parse_index(s), Err(ResumeError::NotANumber), "{s:?}");
    }
    assert_eq!(parse_index("-1"), Err(ResumeError::Negative));
    assert_eq!(parse_index("-0"), Err(ResumeError::Negative));
    assert_eq!(
        parse_index("18446744073709551616"),
        Err(ResumeError::TooLarge)
    );
    assert_eq!(
        parse_index("99999999999999999999999"),
        Err(ResumeError::TooLarge)
    );
}

fn req(from: Option<u64>, last: Option<u64>) -> ResumeRequest<'static> {
    ResumeRequest {
        from: from.map(Seq),
        last_event_id: last.map(Seq),
        epoch: None,
    }
}

#[test]
fn start_is_the_larger_resume_point() {
    assert_eq!(req(None, None).start(), Seq(0));
    assert_eq!(req(Some(5), None).start(), Seq(5));
    assert_eq!(req(None, Some(5)).start(), Seq(6));
    assert_eq!(req(Some(3), Some(5)).start(), Seq(6));
    assert_eq!(req(Some(9), Some(5)).start(), Seq(9));
    assert_eq!(req(None, Some(u64::MAX)).start(), Seq(u64::MAX));
}

#[test]
fn decide_replays_inside_the_window_and_resets_outside() {
    let w = Window {
        first: Seq(10),
        end: Seq(20),
    };
    let cases = [
        (req(Some(10), None), Resume::Replay { from: Seq(10) }),
        (req(Some(15), None), Resume::Replay { from: Seq(15) }),
        (req(Some(20), None), Resume::Replay { from: Seq(20) }), // live only
        (req(None, Some(19)), Resume::Replay { from: Seq(20) }),
        (req(Some(21), None), Resume::Reset { from: Seq(10) }), // log lost/replaced
        (req(Some(9), None), Resume::Reset { from: Seq(10) }),  // retention dropped it
        (req(None, None), Resume::Reset { from: Seq(10) }),
    ];
    for (r, want) in cases {
        assert_eq!(r.decide(w, "e1"), want, "{r:?}");
    }
    let full = Window {
        first: Seq(0),
        end: Seq(0),
    };
    assert_eq!(
        req(None, None).decide(full, "e1"),
        Resume::Replay { from: Seq(0) }
    );
    assert_eq!(
        req(Some(1), None).decide(full, "e1"),
        Resume::Reset { from: Seq(0) }
    );
}

#[test]
fn tracker_accepts_in_order_and_drops_duplicates() {
    let mut t = Tracker::new();
    assert_eq!(t.handle_index(Seq(0)), Arrival::Next);
    assert_eq!(t.handle_index(Seq(1)), Arrival::Next);
    assert_eq!(t.handle_index(Seq(1)), Arrival::Duplicate);
    assert_eq!(t.handle_index(Seq(0)), Arrival::Duplicate);
    assert_eq!(t.resume_from(), Seq(2));
    assert_eq!(t.n_received(), 2);
}

#[test]
fn tracker_reports_a_gap_without_accepting() {
    let mut t = Tracker::with_resume(Seq(5));
    assert_eq!(
        t.handle_index(Seq(8)),
        Arrival::Gap {
            missing_from: Seq(5),
            missing_to: Seq(8)
        }
    );
    assert_eq!(t.resume_from(), Seq(5));
    assert_eq!(t.n_received(), 0);
    assert_eq!(t.handle_index(Seq(5)), Arrival::Next);
    assert_eq!(t.resume_from(), Seq(6));
}

#[test]
fn tracker_epoch_first_same_new() {
    let mut t = Tracker::with_resume(Seq(7));
    assert_eq!(t.handle_epoch("e1"), EpochChange::First);
    assert_eq!(
        t.resume_from(),
        Seq(7),
        "first epoch keeps the resume point"
    );
    assert_eq!(t.handle_index(Seq(7)), Arrival::Next);
    assert_eq!(t.handle_epoch("e1"), EpochChange::Same);
    assert_eq!(t.resume_from(), Seq(8));
    assert_eq!(t.handle_epoch("e2"), EpochChange::New);
    assert_eq!(t.resume_from(), Seq(0));
    assert_eq!(t.n_received(), 0);
    assert_eq!(t.handle_index(Seq(0)), Arrival::Next);
    assert_eq!(t.handle_epoch("e2"), EpochChange::Same);
}

#[test]
fn tracker_reset_accepts_the_servers_first_index() {
    let mut t = Tracker::new();
    for i in 0..3 {
        assert_eq!(t.handle_index(Seq(i)), Arrival::Next);
    }
    t.handle_reset();
    assert_eq!(t.resume_from(), Seq(0));
    assert_eq!(t.handle_index(Seq(40)), Arrival::Next);
    assert_eq!(t.handle_index(Seq(40)), Arrival::Duplicate);
    assert_eq!(
        t.handle_index(Seq(42)),
        Arrival::Gap {
            missing_from: Seq(41),
            missing_to: Seq(42)
        }
    );
    assert_eq!(t.resume_from(), Seq(41));
    assert_eq!(t.n_received(), 1);
}

#[test]
fn tracker_at_u64_max_accepts_once() {
    let mut t = Tracker::with_resume(Seq(u64::MAX));
    assert_eq!(t.handle_index(Seq(u64::MAX)), Arrival::Next);
    assert_eq!(t.handle_index(Seq(u64::MAX)), Arrival::Duplicate);
    assert_eq!(t.resume_from(), Seq(u64::MAX));
}

#[test]
fn fnv1a_matches_reference_values() {
    // Reference vectors from the FNV authors' test suite.
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

fn collect<const N: usize, const F: usize>(log: &EventLog<N, F>, from: u64) -> Vec<(u64, Vec<u8>)> {
    log.replay_from(Seq(from))
        .unwrap()
        .map(|(s, b)| (s.0, b.to_vec()))
        .collect()
}

use std::vec::Vec;

#[test]
fn log_keeps_the_last_n_frames() {
    let mut log: EventLog<3, 8> = EventLog::new();
    assert!(log.is_empty());
    assert_eq!(
        log.window(),
        Window {
            first: Seq(0),
            end: Seq(0)
        }
    );
    for i in 0..5u8 {
        log.push(Seq(u64::from(i)), &[b'0' + i]).unwrap();
    }
    assert_eq!(
        log.window(),
        Window {
            first: Seq(2),
            end: Seq(5)
        }
    );
    assert_eq!(log.len(), 3);
    assert_eq!(
        collect(&log, 2),
        [(2, b"2".to_vec()), (3, b"3".to_vec()), (4, b"4".to_vec())]
    );
    assert_eq!(collect(&log, 4), [(4, b"4".to_vec())]);
    assert_eq!(collect(&log, 5), []);
}

#[test]
fn log_refuses_out_of_window_replay() {
    let mut log: EventLog<2, 8> = EventLog::new();
    for i in 0..4 {
        log.push(Seq(i), b"x").unwrap();
    }
    let w = Window {
        first: Seq(2),
        end: Seq(4),
    };
    assert_eq!(
        log.replay_from(Seq(1)).err(),
        Some(OutsideWindow { window: w })
    );
    assert_eq!(
        log.replay_from(Seq(5)).err(),
        Some(OutsideWindow { window: w })
    );
}

#[test]
fn log_refuses_out_of_order_and_oversized_frames_unchanged() {
    let mut log: EventLog<2, 4> = EventLog::starting_at(Seq(10));
    assert_eq!(
        log.push(Seq(0), b"a"),
        Err(PushError::OutOfOrder { expected: Seq(10) })
    );
    log.push(Seq(10), b"abcd").unwrap();
    assert_eq!(
        log.push(Seq(10), b"a"),
        Err(PushError::OutOfOrder { expected: Seq(11) })
    );
    assert_eq!(
        log.push(Seq(12), b"a"),
        Err(PushError::OutOfOrder { expected: Seq(11) })
    );
    assert_eq!(
        log.push(Seq(11), b"abcde"),
        Err(PushError::FrameTooLarge { len: 5, max: 4 })
    );
    assert_eq!(
        log.window(),
        Window {
            first: Seq(10),
            end: Seq(11)
        }
    );
    assert_eq!(collect(&log, 10), [(10, b"abcd".to_vec())]);
}

#[test]
fn log_and_decide_work_together() {
    let mut log: EventLog<4, 16> = EventLog::new();
    for i in 0..10 {
        log.push(Seq(i), b"m").unwrap();
    }
    for (from, want_reset, want_first) in [
        (0, true, 6),
        (6, false, 6),
        (9, false, 9),
        (10, false, 10),
        (11, true, 6),
    ] {
        let decision = req(Some(from), None).decide(log.window(), "e1");
        let start = match decision {
            Resume::Replay { from } => {
                assert!(!want_reset, "from {from}");
                from
            }
            Resume::Reset { from } => {
                assert!(want_reset, "from {from}");
                from
            }
            Resume::Ended => panic!("decide never says ended"),
        };
        assert_eq!(start, Seq(want_first));
        assert!(log.replay_from(start).is_ok());
    }
}

#[test]
fn from_is_read_as_sketch_read_it() {
    assert_eq!(parse_from(""), Ok(Seq(0)));
    assert_eq!(parse_from("-3"), Ok(Seq(0)));
    assert_eq!(parse_from("-99999999999999999999999"), Ok(Seq(0)));
    assert_eq!(parse_from("+5"), Ok(Seq(5)));
    assert_eq!(parse_from("07"), Ok(Seq(7)));
    assert_eq!(parse_from(" 5"), Ok(Seq(5)), "from=+5 once form-decoded");
    for s in ["abc", "+", "-", "1.5", "  1", "+-1", "--1", "1-"] {
        assert_eq!(parse_from(s), Err(ResumeError::NotANumber), "{s:?}");
    }
    assert_eq!(
        parse_from("18446744073709551616"),
        Err(ResumeError::TooLarge)
    );
}

#[test]
fn event_ids_are_epoch_qualified_or_bare() {
    let e = EventRef::parse("3f2a-17").unwrap();
    assert_eq!((e.epoch, e.idx), (Some("3f2a"), Seq(17)));
    assert_eq!(e.to_string(), "3f2a-17");
    let bare = EventRef::parse("17").unwrap();
    assert_eq!((bare.epoch, bare.idx), (None, Seq(17)));
    assert_eq!(bare.to_string(), "17");
    assert_eq!(EventRef::parse("-1"), Err(ResumeError::Negative));
    assert_eq!(EventRef::parse("a b-1"), Err(ResumeError::InvalidEpoch));
    assert_eq!(EventRef::parse("a--1"), Err(ResumeError::InvalidEpoch));
    assert_eq!(EventRef::parse("ab-"), Err(ResumeError::NotANumber));
    assert_eq!(EventRef::parse("ab-x"), Err(ResumeError::NotANumber));
    let long = "a".repeat(MAX_EPOCH_LEN + 1) + "-1";
    assert_eq!(EventRef::parse(&long), Err(ResumeError::InvalidEpoch));
}

#[test]
fn a_resume_from_another_epoch_is_always_a_reset() {
    let w = Window {
        first: Seq(0),
        end: Seq(10),
    };
    // The stale-restart case: ids 0..3 of epoch `old`, the log now holds 10 of `new`.
    let stale = ResumeRequest::parse(None, None, Some("old-3")).unwrap();
    assert_eq!(stale.decide(w, "new"), Resume::Reset { from: Seq(0) });
    assert_eq!(stale.decide(w, "old"), Resume::Replay { from: Seq(4) });
    let by_param = ResumeRequest::parse(Some("4"), Some("old"), None).unwrap();
    assert_eq!(by_param.decide(w, "new"), Resume::Reset { from: Seq(0) });
    assert_eq!(by_param.decide(w, "old"), Resume::Replay { from: Seq(4) });
    // No epoch said: the index alone decides (sketch's `from=`).
    let plain = ResumeRequest::parse(Some("4"), None, Some("3")).unwrap();
    assert_eq!(plain.decide(w, "new"), Resume::Replay { from: Seq(4) });
    // Empty values are absent.
    assert_eq!(
        ResumeRequest::parse(Some(""), Some(""), Some("")),
        Ok(ResumeRequest {
            from: Some(Seq(0)),
            last_event_id: None,
            epoch: None
        })
    );
    assert_eq!(
        ResumeRequest::parse(None, Some("a"), Some("b-1")),
        Err(ResumeError::ConflictingEpochs)
    );
    assert_eq!(
        ResumeRequest::parse(None, Some("a-b"), None),
        Err(ResumeError::InvalidEpoch)
    );
}

#[test]
fn an_ended_session_answers_a_client_at_its_end_with_ended() {
    let w = Window {
        first: Seq(0),
        end: Seq(5),
    };
    let at_end = ResumeRequest::parse(None, None, Some("e-4")).unwrap();
    assert_eq!(at_end.decide_ended(w, "e"), Resume::Ended);
    assert_eq!(at_end.decide(w, "e"), Resume::Replay { from: Seq(5) });
    let behind = ResumeRequest::parse(Some("2"), None, None).unwrap();
    assert_eq!(behind.decide_ended(w, "e"), Resume::Replay { from: Seq(2) });
    // Another history still resets (its client needs the whole log).
    assert_eq!(at_end.decide_ended(w, "f"), Resume::Reset { from: Seq(0) });
}
