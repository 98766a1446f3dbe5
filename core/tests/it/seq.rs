//! Sequence-index properties: the client tracker against a reference model and its written
//! invariants, the server's resume decision, and the device replay log.

use std::collections::BTreeSet;

use proptest::prelude::*;
use sse_core::Seq;
use sse_core::seq::{Arrival, EpochChange, EventLog, Resume, ResumeRequest, Tracker, Window};

#[derive(Debug, Clone)]
enum Op {
    Index(u64),
    Epoch(&'static str),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Mostly in-order-ish indices so runs of acceptance actually happen.
        8 => (0u64..24).prop_map(Op::Index),
        1 => prop::sample::select(vec!["e1", "e2", "e3"]).prop_map(Op::Epoch),
        1 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Without resets or epoch changes, accepted indices are exactly 0..n in order, every
    /// duplicate and every gap is refused, and the resume point is last accepted + 1.
    #[test]
    fn tracker_accepts_exactly_the_dense_prefix(indices in prop::collection::vec(0u64..32, 0..200)) {
        let mut t = Tracker::new();
        let mut accepted = Vec::new();
        for idx in indices {
            let before = t.resume_from();
            match t.handle_index(Seq(idx)) {
                Arrival::Next => {
                    prop_assert_eq!(idx, before.0);
                    accepted.push(idx);
                }
                Arrival::Duplicate => {
                    prop_assert!(idx < before.0);
                    prop_assert_eq!(t.resume_from(), before);
                }
                Arrival::Gap { missing_from, missing_to } => {
                    prop_assert!(idx > before.0);
                    prop_assert_eq!((missing_from, missing_to), (before, Seq(idx)));
                    prop_assert_eq!(t.resume_from(), before, "a gap is not accepted");
                }
            }
            prop_assert_eq!(t.resume_from().0, accepted.last().map_or(0, |l| l + 1));
            prop_assert_eq!(t.n_received(), accepted.len() as u64);
        }
        let dense: Vec<u64> = (0..accepted.len() as u64).collect();
        prop_assert_eq!(accepted, dense);
    }

    /// With resets and epoch changes mixed in: within each run (from the start, a reset or a
    /// new epoch to the next), accepted indices are strictly consecutive and never repeat; a
    /// new epoch restarts at 0; the same epoch changes nothing.
    #[test]
    fn tracker_runs_are_dense_and_epochs_start_over(ops in prop::collection::vec(op(), 0..300)) {
        let mut t = Tracker::new();
        let mut run: Vec<u64> = Vec::new();
        let mut run_start: Option<u64> = Some(0); // None: after a reset, any first index
        let mut epoch: Option<&str> = None;
        for op in ops {
            match op {
                Op::Index(idx) => {
                    let before = t.resume_from();
                    let arrival = t.handle_index(Seq(idx));
                    let expected = match run.last() {
                        Some(l) => Some(l + 1),
                        None => run_start,
                    };
                    match (expected, arrival) {
                        (None, a) => {
                            prop_assert_eq!(a, Arrival::Next, "first index after a reset is taken");
                            run.push(idx);
                        }
                        (Some(e), Arrival::Next) => {
                            prop_assert_eq!(idx, e);
                            run.push(idx);
                        }
                        (Some(e), Arrival::Duplicate) => prop_assert!(idx < e),
                        (Some(e), Arrival::Gap { missing_from, missing_to }) => {
                            prop_assert!(idx > e);
                            prop_assert_eq!((missing_from.0, missing_to.0), (e, idx));
                            prop_assert_eq!(t.resume_from(), before);
                        }
                    }
                }
                Op::Epoch(e) => {
                    let change = t.handle_epoch(e);
                    let want = match epoch {
                        None => EpochChange::First,
                        Some(old) if old == e => EpochChange::Same,
                        Some(_) => EpochChange::New,
                    };
                    prop_assert_eq!(change, want);
                    if change == EpochChange::New {
                        prop_assert_eq!(t.resume_from(), Seq(0));
                        run.clear();
                        run_start = Some(0);
                    }
                    epoch = Some(e);
                }
                Op::Reset => {
                    t.handle_reset();
                    prop_assert_eq!(t.resume_from(), Seq(0));
                    run.clear();
                    run_start = None;
                }
            }
            // Invariants after every step.
            let unique: BTreeSet<u64> = run.iter().copied().collect();
            prop_assert_eq!(unique.len(), run.len(), "an index was accepted twice");
            prop_assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "run not dense: {:?}", run);
            let resume = match (run.last(), run_start) {
                (Some(l), _) => l + 1,
                (None, Some(s)) => s,
                (None, None) => 0,
            };
            prop_assert_eq!(t.resume_from().0, resume);
            prop_assert_eq!(t.n_received(), run.len() as u64);
        }
    }

    /// A resumed tracker continues exactly where it left off.
    #[test]
    fn resumed_tracker_continues_at_its_point(next in 0u64..1_000, extra in 0u64..50) {
        let mut t = Tracker::with_resume(Seq(next));
        for i in next..next + extra {
            prop_assert_eq!(t.handle_index(Seq(i)), Arrival::Next);
        }
        prop_assert_eq!(t.resume_from(), Seq(next + extra));
        if next > 0 {
            prop_assert_eq!(t.handle_index(Seq(next - 1)), Arrival::Duplicate);
        }
    }

    /// The server replays from exactly the asked point when it has it, and otherwise resets to
    /// the window's first index; it never starts anywhere else.
    #[test]
    fn decide_replays_the_asked_point_or_resets_to_first(
        first in 0u64..100,
        len in 0u64..100,
        from in prop::option::of(0u64..250),
        last in prop::option::of(0u64..250),
    ) {
        let w = Window { first: Seq(first), end: Seq(first + len) };
        let req = ResumeRequest { from: from.map(Seq), last_event_id: last.map(Seq), epoch: None };
        let start = req.start();
        prop_assert!(from.is_none_or(|f| start.0 >= f));
        prop_assert!(last.is_none_or(|l| start.0 > l));
        prop_assert!(start.0 == from.unwrap_or(0) || Some(start.0) == last.map(|l| l + 1));
        match req.decide(w, "e") {
            Resume::Replay { from } => {
                prop_assert_eq!(from, start);
                prop_assert!(w.first <= from && from <= w.end);
            }
            Resume::Reset { from } => {
                prop_assert_eq!(from, w.first);
                prop_assert!(start < w.first || start > w.end);
            }
            Resume::Ended => prop_assert!(false, "decide never says ended"),
        }
        // Claiming another epoch always resets; claiming this one changes nothing.
        let other = ResumeRequest { epoch: Some("other"), ..req };
        prop_assert_eq!(other.decide(w, "e"), Resume::Reset { from: w.first });
        let same = ResumeRequest { epoch: Some("e"), ..req };
        prop_assert_eq!(same.decide(w, "e"), req.decide(w, "e"));
    }

    /// Whatever the log has retained, the decided start is replayable, and the replay is the
    /// dense run from there to the end with the frames that were pushed.
    #[test]
    fn log_replays_what_decide_chooses(pushed in 0u64..40, from in 0u64..50) {
        let mut log: EventLog<8, 16> = EventLog::new();
        for i in 0..pushed {
            log.push(Seq(i), format!("f{i}").as_bytes()).unwrap();
        }
        let w = log.window();
        prop_assert_eq!(w.end, Seq(pushed));
        prop_assert_eq!(w.first, Seq(pushed.saturating_sub(8)));
        let req = ResumeRequest { from: Some(Seq(from)), last_event_id: None, epoch: None };
        let start = match req.decide(w, "e") {
            Resume::Replay { from } | Resume::Reset { from } => from,
            Resume::Ended => unreachable!("decide never says ended"),
        };
        let replay: Vec<(u64, Vec<u8>)> =
            log.replay_from(start).unwrap().map(|(s, f)| (s.0, f.to_vec())).collect();
        let want: Vec<(u64, Vec<u8>)> =
            (start.0..pushed).map(|i| (i, format!("f{i}").into_bytes())).collect();
        prop_assert_eq!(replay, want);
    }
}

/// End to end: a server log, a client tracker and a disconnect at every point, resuming from
/// the tracker's point, delivers every message exactly once and in order.
#[test]
fn resume_after_any_disconnect_delivers_exactly_once() {
    let mut log: EventLog<64, 16> = EventLog::new();
    for i in 0..30 {
        log.push(Seq(i), b"m").unwrap();
    }
    for cut in 0..30 {
        let mut t = Tracker::new();
        let mut delivered = Vec::new();
        let mut resume = ResumeRequest::default();
        for connection in 0..2 {
            let start = match resume.decide(log.window(), "e") {
                Resume::Replay { from } => from,
                Resume::Reset { .. } | Resume::Ended => panic!("no reset expected"),
            };
            for (seq, _) in log.replay_from(start).unwrap() {
                if connection == 0 && seq.0 == cut {
                    break; // the link drops before `cut` arrives
                }
                if t.handle_index(seq) == Arrival::Next {
                    delivered.push(seq.0);
                }
            }
            resume = ResumeRequest {
                from: Some(t.resume_from()),
                last_event_id: t.resume_from().0.checked_sub(1).map(Seq),
                epoch: Some("e"),
            };
        }
        assert_eq!(delivered, (0..30).collect::<Vec<_>>(), "cut at {cut}");
    }
}
