//! The follow session against a scripted server on a fake clock: what the app sees over time,
//! and a property that a faulty server (duplicates, gaps, drops, odd chunking) never makes the
//! app miss, repeat or reorder a message.

use crate::support::clock::Sim;
use proptest::prelude::*;
use sse_core::agent::follow::{Action, Follow, Output};
use sse_core::reconnect::{Disconnect, Policy, Reason, StatusKind};
use sse_core::{Duration, Seq};

type F = Follow<64, 512>;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn message(idx: u64) -> String {
    format!("id: {idx}\ndata: {{\"idx\":{idx}}}\n\n")
}

fn state(epoch: &str) -> String {
    format!("event: state\ndata: {{\"epoch\":\"{epoch}\"}}\n\n")
}

const HEARTBEAT: &str = "event: heartbeat\ndata: 1700000000\n\n";

/// What the app saw, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Msg(u64),
    State,
    Heartbeat,
    StartOver,
    Ended,
    Other,
    Comment,
    Dropped,
    Status(StatusKind, Reason),
}

fn seen(o: Output<'_>) -> Seen {
    match o {
        Output::Message { idx, .. } => Seen::Msg(idx.0),
        Output::State { .. } => Seen::State,
        Output::Heartbeat(_) => Seen::Heartbeat,
        Output::StartOver { .. } => Seen::StartOver,
        Output::SessionEnded(_) => Seen::Ended,
        Output::Other { .. } => Seen::Other,
        Output::Comment(_) => Seen::Comment,
        Output::Dropped(_) => Seen::Dropped,
        Output::StatusChanged(s) => Seen::Status(s.kind, s.reason),
        o => panic!("an output this test does not know: {o:?}"),
    }
}

/// Feeds bytes in `chunk`-sized reads the way a shell does; returns what the app saw.
fn deliver(sim: &mut Sim<F>, bytes: &[u8], chunk: usize) -> Vec<Seen> {
    let now = sim.now();
    let mut out = Vec::new();
    for mut rest in bytes.chunks(chunk.max(1)) {
        while !rest.is_empty() {
            if let Some(o) = sim.m.handle_bytes(now, &mut rest) {
                out.push(seen(o));
            }
        }
    }
    out.extend(std::iter::from_fn(|| sim.m.poll_output()).map(seen));
    out
}

/// Runs timers until the session asks to connect; returns `from`.
fn next_connect(sim: &mut Sim<F>) -> Seq {
    let mut actions = sim.drain();
    for _ in 0..10 {
        let connect = actions.iter().find_map(|a| match a {
            Action::Connect { from } => Some(*from),
            _ => None,
        });
        if let Some(from) = connect {
            return from;
        }
        actions = sim.fire_timer().expect("a timer is armed").1;
    }
    panic!("no Connect: {:?}", sim.trace);
}

#[test]
fn a_session_over_time() {
    let mut sim = Sim::new(F::new(Policy::default(), 3));
    sim.m.start(sim.now());
    assert_eq!(next_connect(&mut sim), Seq(0));
    sim.m.handle_response(sim.now(), 200, true);
    let opening = [state("e1"), message(0), message(1)].concat();
    assert_eq!(
        deliver(&mut sim, opening.as_bytes(), 7),
        [
            Seen::Status(StatusKind::Connected, Reason::Connected),
            Seen::State,
            Seen::Msg(0),
            Seen::Msg(1)
        ]
    );
    // Heartbeats every 15 s keep it up for a minute.
    for _ in 0..4 {
        assert!(sim.advance(secs(15)).is_empty());
        assert_eq!(
            deliver(&mut sim, HEARTBEAT.as_bytes(), 5),
            [Seen::Heartbeat]
        );
    }
    // The server goes silent (laptop sleep, dead proxy): 45 s later the watchdog closes.
    let silent_from = sim.now();
    assert_eq!(sim.advance(secs(45)), [Action::Close]);
    assert_eq!(sim.now() - silent_from, secs(45));
    assert_eq!(
        deliver(&mut sim, b"", 1),
        [Seen::Status(StatusKind::Disconnected, Reason::NoHeartbeat)]
    );
    // It was healthy, so the retry comes after the base delay (with jitter), resuming at 2.
    assert_eq!(next_connect(&mut sim), Seq(2));
    let waited = sim.now() - silent_from;
    assert!(waited >= secs(46) && waited <= secs(45) + Duration::from_millis(1_200));
    assert_eq!(sim.m.last_event_id(), Some("1"));
    sim.m.handle_response(sim.now(), 200, true);
    let resumed = [state("e1"), message(1), message(2)].concat();
    assert_eq!(
        deliver(&mut sim, resumed.as_bytes(), 64),
        [
            Seen::Status(StatusKind::Connected, Reason::Connected),
            Seen::State,
            Seen::Msg(2)
        ]
    );
    // The agent ends the session: no more reconnects.
    let end = "event: session_ended\ndata: {\"message\":\"done\"}\n\n";
    assert_eq!(
        deliver(&mut sim, end.as_bytes(), 64),
        [
            Seen::Ended,
            Seen::Status(StatusKind::Disabled, Reason::SessionEnded)
        ]
    );
    assert_eq!(sim.drain(), [Action::Close]);
    assert!(sim.advance(secs(3_600)).is_empty());
}

#[test]
fn server_restart_with_a_new_log_starts_over() {
    let mut sim = Sim::new(F::new(Policy::default(), 3));
    sim.m.start(sim.now());
    next_connect(&mut sim);
    sim.m.handle_response(sim.now(), 200, true);
    let old = [state("old"), message(0), message(1), message(2)].concat();
    let _ = deliver(&mut sim, old.as_bytes(), 64);
    sim.m.handle_disconnected(sim.now(), Disconnect::Network);
    assert_eq!(next_connect(&mut sim), Seq(3));
    sim.m.handle_response(sim.now(), 200, true);
    // Disconnected, Connecting and Connected again between two polls: only the latest counts,
    // and it equals the last one reported.
    assert_eq!(sim.m.poll_output(), None);
    // The new log has fewer messages than we asked for: the server sends `reset`.
    let new = [
        state("new"),
        "event: reset\ndata: {\"epoch\":\"new\",\"message_count\":1}\n\n".into(),
        message(0),
    ]
    .concat();
    assert_eq!(
        deliver(&mut sim, new.as_bytes(), 3),
        [Seen::State, Seen::StartOver, Seen::StartOver, Seen::Msg(0)]
    );
    assert_eq!(sim.m.resume_from(), Seq(1));
}

#[test]
fn http_errors_disable_or_retry() {
    for (code, kind) in [
        (404, StatusKind::Disabled),
        (401, StatusKind::Disabled),
        (204, StatusKind::Disabled),
        (500, StatusKind::Disconnected),
        (429, StatusKind::Disconnected),
    ] {
        let mut sim = Sim::new(F::new(Policy::default(), 3));
        sim.m.start(sim.now());
        next_connect(&mut sim);
        sim.m.handle_response(sim.now(), code, false);
        assert_eq!(sim.m.status().kind, kind, "{code}");
        let later = sim.advance(secs(120));
        assert_eq!(
            later.iter().any(|a| matches!(a, Action::Connect { .. })),
            kind == StatusKind::Disconnected,
            "{code}: {later:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A faulty server never makes the app miss, repeat or reorder a message.

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    /// Start the replay one message early.
    StartEarly,
    /// Skip one message.
    Skip,
    /// Send this message twice.
    Duplicate,
    /// Hang up after this message.
    HangUp,
    /// Answer 503.
    Unavailable,
    /// Stop sending (the watchdog must notice).
    Stall,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::None),
        1 => Just(Fault::StartEarly),
        1 => Just(Fault::Skip),
        1 => Just(Fault::Duplicate),
        1 => Just(Fault::HangUp),
        1 => Just(Fault::Unavailable),
        1 => Just(Fault::Stall),
    ]
}

fn run_faulty_server(n: u64, faults: &[Fault], chunk: usize, seed: u64) -> Vec<u64> {
    let mut faults = faults.iter().copied();
    let mut next_fault = move || faults.next().unwrap_or(Fault::None);
    let mut sim = Sim::new(F::new(Policy::default(), seed));
    sim.m.start(sim.now());
    let mut got = Vec::new();
    for _connection in 0..500 {
        if got.len() as u64 == n {
            break;
        }
        // The server starts at the larger of `from` and `Last-Event-ID + 1` (PROTOCOL.md §2).
        let from = next_connect(&mut sim).0;
        let last_id = sim
            .m
            .last_event_id()
            .map(|id| id.parse::<u64>().expect("an index"));
        let from = last_id.map_or(from, |id| from.max(id + 1));
        if let Fault::Unavailable = next_fault() {
            sim.m.handle_response(sim.now(), 503, false);
            continue;
        }
        sim.m.handle_response(sim.now(), 200, true);
        let mut idx = match next_fault() {
            Fault::StartEarly => from.saturating_sub(1),
            _ => from,
        };
        let mut stream = state("e");
        let mut ended = false;
        while idx < n && !ended {
            match next_fault() {
                Fault::Skip => idx += 1,
                Fault::Duplicate => stream.push_str(&message(idx)),
                Fault::HangUp => ended = true,
                Fault::Stall => {
                    ended = true;
                    stream.push_str(&message(idx));
                    for s in deliver(&mut sim, stream.as_bytes(), chunk) {
                        if let Seen::Msg(i) = s {
                            got.push(i);
                        }
                    }
                    stream.clear();
                    // Silence until the watchdog closes the connection, 45 s after the last byte.
                    if sim.m.status().kind == StatusKind::Connected {
                        let last_byte = sim.now();
                        let (at, closed) = sim.fire_timer().expect("watchdog armed");
                        assert_eq!(closed, [Action::Close]);
                        assert_eq!(at - last_byte, secs(45));
                    }
                    continue;
                }
                _ => {}
            }
            if idx < n {
                stream.push_str(&message(idx));
            }
            idx += 1;
        }
        for s in deliver(&mut sim, stream.as_bytes(), chunk) {
            if let Seen::Msg(i) = s {
                got.push(i);
            }
        }
        if sim.m.status().kind == StatusKind::Connected {
            sim.m
                .handle_disconnected(sim.now(), Disconnect::EndOfStream);
        }
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_loss_no_duplicate_no_reorder(
        n in 0u64..40,
        faults in prop::collection::vec(fault(), 0..60),
        chunk in 1usize..80,
        seed: u64,
    ) {
        let got = run_faulty_server(n, &faults, chunk, seed);
        prop_assert_eq!(got, (0..n).collect::<Vec<_>>());
    }
}

#[test]
fn the_fixed_point_of_a_clean_server_is_everything_once() {
    assert_eq!(run_faulty_server(5, &[], 3, 1), [0, 1, 2, 3, 4]);
    let faults = [Fault::None, Fault::None, Fault::Skip, Fault::Duplicate];
    assert_eq!(run_faulty_server(5, &faults, 1, 1), [0, 1, 2, 3, 4]);
}
