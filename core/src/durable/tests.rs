use super::*;
use proptest::prelude::*;
use std::string::String;

fn off(p: u64) -> Offset {
    Offset::at(p).unwrap()
}

fn text(o: Offset) -> String {
    let mut buf = [0; OFFSET_LEN];
    String::from(o.format(&mut buf))
}

#[test]
fn offsets_are_fixed_width_and_never_a_sentinel() {
    assert_eq!(text(Offset::ZERO), "0000000000000000_0000000000000000");
    assert_eq!(
        text(Offset::new(3, 42).unwrap()),
        "0000000000000003_0000000000000042"
    );
    let max = Offset::new(OFFSET_PART_MAX, OFFSET_PART_MAX).unwrap();
    assert_eq!(text(max), "9999999999999999_9999999999999999");
    assert_eq!(Offset::at(OFFSET_PART_MAX + 1), Err(OffsetError::TooLarge));
    assert_eq!(max.advance(1), Err(OffsetError::TooLarge));
    assert_eq!(off(5).advance(u64::MAX), Err(OffsetError::TooLarge));
}

#[test]
fn malformed_offsets_are_refused() {
    for s in [
        "",
        "0",
        "0,1",
        "0 1",
        "-2",
        "NOW",
        "0000000000000000-0000000000000000",
        "0000000000000000_000000000000000",
        "0000000000000000_00000000000000000",
        "000000000000000a_0000000000000000",
        "+000000000000000_0000000000000000",
        "0000000000000000_0000000000000000 ",
        "٠000000000000000_000000000000000",
    ] {
        assert_eq!(Offset::parse(s), Err(OffsetError::Malformed), "{s:?}");
        assert!(Start::parse(Some(s)).is_err(), "{s:?}");
    }
}

#[test]
fn sentinels_and_absence() {
    assert_eq!(Start::parse(None), Ok(Start::Beginning));
    assert_eq!(Start::parse(Some("-1")), Ok(Start::Beginning));
    assert_eq!(Start::parse(Some("now")), Ok(Start::Now));
    assert_eq!(
        Start::parse(Some("0000000000000000_0000000000000007")),
        Ok(Start::At(off(7)))
    );
}

#[test]
fn read_decisions() {
    let open = Tail {
        next: off(10),
        closed: false,
    };
    let closed = Tail {
        closed: true,
        ..open
    };
    let d = |s, t| Read::decide(s, t);
    assert_eq!(d(Start::Beginning, open), Ok(Read::Data { from: off(0) }));
    assert_eq!(d(Start::At(off(4)), open), Ok(Read::Data { from: off(4) }));
    assert_eq!(
        d(Start::At(off(10)), open),
        Ok(Read::UpToDate { at: off(10) })
    );
    assert_eq!(d(Start::Now, open), Ok(Read::UpToDate { at: off(10) }));
    assert_eq!(d(Start::Now, closed), Ok(Read::Closed { at: off(10) }));
    assert_eq!(
        d(Start::At(off(10)), closed),
        Ok(Read::Closed { at: off(10) })
    );
    assert_eq!(
        d(Start::At(off(3)), closed),
        Ok(Read::Data { from: off(3) })
    );
    assert_eq!(d(Start::At(off(11)), open), Err(ReadError::BeyondTail));
    let empty = Tail {
        next: Offset::ZERO,
        closed: false,
    };
    assert_eq!(
        d(Start::Beginning, empty),
        Ok(Read::UpToDate { at: Offset::ZERO })
    );
    assert_eq!(Read::after(off(10), closed), Read::Closed { at: off(10) });
    assert_eq!(Read::after(off(8), closed), Read::Data { from: off(8) });
    assert_eq!(Read::after(off(10), open), Read::UpToDate { at: off(10) });
}

#[test]
fn live_modes() {
    assert_eq!(Live::parse(None), Ok(Live::CatchUp));
    assert_eq!(Live::parse(Some("long-poll")), Ok(Live::LongPoll));
    assert_eq!(Live::parse(Some("sse")), Ok(Live::Sse));
    assert!(Live::parse(Some("")).is_err());
    assert!(Live::parse(Some("SSE")).is_err());
}

#[test]
fn cursors_never_repeat_a_clients_cursor() {
    let now = CURSOR_EPOCH_UNIX + 20 * 1000 + 7;
    assert_eq!(cursor(now, None, 1), 1000);
    assert_eq!(cursor(now, Some(999), 1), 1000);
    assert_eq!(cursor(now, Some(1000), 1), 1001);
    assert_eq!(cursor(now, Some(1000), 3600), 1180);
    assert_eq!(cursor(now, Some(5000), 40), 5002);
    assert_eq!(cursor(0, None, 1), 0);
    assert_eq!(cursor(now, Some(u64::MAX), 3600), u64::MAX);
}

#[test]
fn producer_fencing() {
    use ProducerCheck as P;
    let s = |epoch, last_seq| ProducerState { epoch, last_seq };
    assert_eq!(P::decide(None, 0, 0), P::Accept { state: s(0, 0) });
    assert_eq!(P::decide(None, 3, 0), P::Accept { state: s(3, 0) });
    assert_eq!(
        P::decide(None, 0, 2),
        P::Gap {
            expected: 0,
            received: 2
        }
    );
    let k = Some(s(1, 4));
    assert_eq!(P::decide(k, 1, 5), P::Accept { state: s(1, 5) });
    assert_eq!(P::decide(k, 1, 4), P::Duplicate { state: s(1, 4) });
    assert_eq!(P::decide(k, 1, 0), P::Duplicate { state: s(1, 4) });
    assert_eq!(
        P::decide(k, 1, 7),
        P::Gap {
            expected: 5,
            received: 7
        }
    );
    assert_eq!(P::decide(k, 0, 9), P::StaleEpoch { current: 1 });
    assert_eq!(P::decide(k, 2, 0), P::Accept { state: s(2, 0) });
    assert_eq!(P::decide(k, 2, 1), P::NewEpochNotAtZero);
}

#[test]
fn control_json_and_frames() {
    let mut buf = [0; CONTROL_MAX];
    let c = Control {
        next: off(5),
        cursor: Some(42),
        up_to_date: true,
        closed: false,
    };
    assert_eq!(
        c.write_json(&mut buf).unwrap(),
        r#"{"streamNextOffset":"0000000000000000_0000000000000005","streamCursor":"42","upToDate":true}"#
    );
    let end = Control {
        next: off(5),
        cursor: None,
        up_to_date: true,
        closed: true,
    };
    let json = end.write_json(&mut buf).unwrap();
    assert_eq!(
        json,
        r#"{"streamNextOffset":"0000000000000000_0000000000000005","upToDate":true,"streamClosed":true}"#
    );
    let longest = Control {
        next: Offset::new(OFFSET_PART_MAX, OFFSET_PART_MAX).unwrap(),
        cursor: Some(u64::MAX),
        up_to_date: true,
        closed: true,
    };
    assert_eq!(longest.write_json(&mut buf).unwrap().len(), CONTROL_MAX);
    let mut small = [0; 10];
    assert!(c.write_json(&mut small).is_err());

    let mut out = [0; 64];
    let n = encode_event(CONTROL, r#"{"a":1}"#, &mut out).unwrap();
    assert_eq!(&out[..n], b"event: control\ndata:{\"a\":1}\n\n");
    assert_eq!(n, event_len(CONTROL, r#"{"a":1}"#));
    let n = data_frame("[\n1\n]").encode(&mut out).unwrap();
    assert_eq!(&out[..n], b"event: data\ndata: [\ndata: 1\ndata: ]\n\n");
    // A payload cannot end the event or start a field: every line break starts a data line.
    let evil = "a\r\n\r\nevent: x\rid: 1\n";
    let n = encode_event(DATA, evil, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"event: data\ndata:a\ndata:\ndata:event: x\ndata:id: 1\ndata:\n\n"
    );
    assert_eq!(n, event_len(DATA, evil));
    let mut small = [0; 8];
    assert_eq!(
        encode_event(DATA, "abc", &mut small),
        Err(BufferTooSmall {
            needed: event_len(DATA, "abc")
        })
    );
    assert_eq!(small, [0; 8]);
}

#[test]
fn content_types() {
    for t in [
        "text/plain",
        "TEXT/html; charset=utf-8",
        "application/json",
        "Application/JSON;x=1",
    ] {
        assert!(sse_is_text(t), "{t}");
    }
    for t in [
        "application/octet-stream",
        "application/ndjson",
        "text",
        "",
        "application/jsonx",
    ] {
        assert!(!sse_is_text(t), "{t}");
    }
    assert!(is_json(" application/json ; charset=utf-8"));
    assert!(!is_json("text/json"));
}

proptest! {
    #[test]
    fn offsets_round_trip(seg in 0..=OFFSET_PART_MAX, pos in 0..=OFFSET_PART_MAX) {
        let o = Offset::new(seg, pos).unwrap();
        let mut buf = [0; OFFSET_LEN];
        let s = o.format(&mut buf);
        prop_assert_eq!(s.len(), OFFSET_LEN);
        prop_assert!(s != "-1" && s != "now");
        prop_assert!(!s.contains([',', '&', '=', '?', '/']));
        prop_assert_eq!(Offset::parse(s), Ok(o));
        prop_assert_eq!(Start::parse(Some(s)), Ok(Start::At(o)));
    }

    #[test]
    fn offset_order_is_text_order(
        a in (0..=OFFSET_PART_MAX, 0..=OFFSET_PART_MAX),
        b in (0..=OFFSET_PART_MAX, 0..=OFFSET_PART_MAX),
    ) {
        let (a, b) = (Offset::new(a.0, a.1).unwrap(), Offset::new(b.0, b.1).unwrap());
        prop_assert_eq!(a.cmp(&b), text(a).cmp(&text(b)));
    }

    #[test]
    fn appends_only_move_forward(start in 0..OFFSET_PART_MAX / 2, n in 1..OFFSET_PART_MAX / 2) {
        let a = off(start);
        let b = a.advance(n).unwrap();
        prop_assert!(b > a && text(b) > text(a));
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = Start::parse(Some(&s));
    }
}
