//! The reconnect/watchdog machine driven through a fake clock: scenarios that read like PROTOCOL.md §7
//! §5, then properties over random operation sequences with random time steps.

use crate::support::clock::Sim;
use proptest::prelude::*;
use sse_core::reconnect::{Action, Disconnect, Policy, Reason, Reconnect, Status, StatusKind};
use sse_core::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A started simulation whose first `Connect` has been handed out.
fn started(policy: Policy, seed: u64) -> Sim<Reconnect> {
    let mut sim = Sim::new(Reconnect::new(policy, seed));
    sim.m.start(sim.now());
    assert_eq!(sim.drain(), [Action::Connect]);
    sim
}

fn no_jitter() -> Policy {
    let mut p = Policy::default();
    p.jitter_pct = 0;
    p
}

/// Fails the current attempt with `why`, then waits out the backoff. Returns the delay.
fn fail_and_wait(sim: &mut Sim<Reconnect>, why: Disconnect) -> Duration {
    let failed_at = sim.now();
    sim.m.handle_disconnected(failed_at, why);
    assert_eq!(sim.drain(), [Action::Close]);
    let (now, actions) = sim.fire_timer().expect("backoff armed");
    assert_eq!(actions, [Action::Connect]);
    now - failed_at
}

#[test]
fn backoff_grows_by_half_and_caps() {
    let mut policy = Policy::default(); // #[non_exhaustive]: mutate a default
    policy.max_backoff = secs(4);
    let mut sim = started(policy, 7);
    // Nominal 1 000, 1 500, 2 250, 3 375, 4 000 ms: jitter adds up to 20 % (never less than the
    // nominal delay), and near the cap the window moves down to end at it.
    for (lo, hi) in [
        (1_000, 1_200),
        (1_500, 1_800),
        (2_250, 2_700),
        (3_325, 4_000),
        (3_200, 4_000),
        (3_200, 4_000),
    ] {
        let delay = fail_and_wait(&mut sim, Disconnect::Network);
        assert!(delay <= ms(hi), "{delay} > {hi} ms");
        assert!(delay >= ms(lo), "{delay} < {lo} ms");
    }
}

#[test]
fn default_backoff_reaches_60_s_and_stays() {
    let mut sim = started(no_jitter(), 1);
    let delays: Vec<u64> = (0..15)
        .map(|_| fail_and_wait(&mut sim, Disconnect::Network).as_millis())
        .collect();
    assert_eq!(&delays[..4], &[1_000, 1_500, 2_250, 3_375]);
    assert_eq!(&delays[11..], &[60_000; 4]);
}

#[test]
fn retry_hint_sets_the_base() {
    let mut sim = started(no_jitter(), 1);
    sim.m.handle_connected(sim.now());
    sim.m.handle_retry_hint(secs(5));
    assert_eq!(fail_and_wait(&mut sim, Disconnect::EndOfStream), secs(5));
    assert_eq!(fail_and_wait(&mut sim, Disconnect::EndOfStream), ms(7_500));
}

#[test]
fn attempt_count_resets_only_after_a_healthy_connection() {
    let mut sim = started(no_jitter(), 1);
    for _ in 0..4 {
        fail_and_wait(&mut sim, Disconnect::Network);
    }
    assert_eq!(sim.m.attempt(), 4);

    // Open, and bytes flow for 9 s: not yet healthy, the next delay keeps growing.
    sim.m.handle_connected(sim.now());
    sim.clock.advance(secs(9));
    sim.m.handle_bytes(sim.now());
    assert_eq!(fail_and_wait(&mut sim, Disconnect::EndOfStream), ms(5_062));

    // Open, and bytes still flow after 10 s: healthy, back to the base delay.
    sim.m.handle_connected(sim.now());
    sim.clock.advance(secs(10));
    sim.m.handle_bytes(sim.now());
    assert_eq!(sim.m.attempt(), 0);
    assert_eq!(fail_and_wait(&mut sim, Disconnect::EndOfStream), secs(1));
}

#[test]
fn accept_then_close_does_not_storm() {
    let mut sim = started(Policy::default(), 99);
    let mut connects = 0;
    // Ten simulated minutes against a server that answers 200 and hangs up at once.
    while sim.now() < Instant::from_millis(600_000) {
        let now = sim.now();
        sim.m.handle_connected(now);
        sim.m.handle_bytes(now);
        sim.m.handle_disconnected(now, Disconnect::EndOfStream);
        let (_, actions) = sim.fire_timer().expect("backoff armed");
        connects += actions.iter().filter(|a| **a == Action::Connect).count();
    }
    // 1 s × 1.5ⁿ reaches the 60 s cap after ~11 tries; the rest of 10 min is ~60 s apart.
    assert!(connects <= 20, "{connects} connects in 10 minutes");
    let gaps: Vec<Duration> = sim
        .trace
        .windows(2)
        .filter(|w| w[1].1 == Action::Connect)
        .map(|w| w[1].0 - w[0].0)
        .collect();
    assert!(gaps.iter().all(|g| *g <= secs(60)));
}

#[test]
fn fatal_statuses_disable() {
    for code in [204, 401, 403, 404] {
        let mut sim = started(Policy::default(), 1);
        sim.m
            .handle_disconnected(sim.now(), Disconnect::HttpStatus(code));
        assert_eq!(sim.drain(), [Action::Close]);
        assert_eq!(
            sim.m.status(),
            Status {
                kind: StatusKind::Disabled,
                reason: Reason::HttpStatus(code)
            }
        );
        assert_eq!(sim.m.poll_timeout(), None, "{code}: no retry scheduled");
        assert!(
            sim.advance(secs(3_600)).is_empty(),
            "{code}: nothing for an hour"
        );
    }
}

#[test]
fn retryable_statuses_back_off_and_reconnect() {
    for code in [500, 503, 408, 429] {
        let mut sim = started(Policy::default(), 1);
        sim.m
            .handle_disconnected(sim.now(), Disconnect::HttpStatus(code));
        assert_eq!(sim.m.status().kind, StatusKind::Disconnected, "{code}");
        assert_eq!(sim.m.status().reason, Reason::HttpStatus(code), "{code}");
        assert_eq!(
            sim.advance(secs(2)),
            [Action::Close, Action::Connect],
            "{code}"
        );
    }
}

#[test]
fn watchdog_fires_only_after_the_idle_span() {
    let mut sim = started(no_jitter(), 1);
    sim.m.handle_connected(sim.now());
    // Heartbeats every 15 s for two minutes keep it alive.
    for _ in 0..8 {
        assert!(sim.advance(secs(15)).is_empty());
        sim.m.handle_bytes(sim.now());
    }
    let last_byte = sim.now();
    assert!(
        sim.advance(ms(44_999)).is_empty(),
        "fired before 45 s of silence"
    );
    sim.m.handle_timeout(sim.now()); // a spurious wakeup 1 ms early
    assert!(sim.drain().is_empty(), "fired 1 ms early");
    assert_eq!(sim.m.status().kind, StatusKind::Connected);
    assert_eq!(sim.advance(ms(1)), [Action::Close]);
    assert_eq!(sim.now() - last_byte, secs(45));
    assert_eq!(sim.m.status().reason, Reason::NoHeartbeat);
    assert_eq!(sim.advance(secs(1)), [Action::Connect]);
}

#[test]
fn connect_timeout_closes_and_retries() {
    let mut sim = started(no_jitter(), 1);
    assert!(sim.advance(ms(9_999)).is_empty());
    sim.m.handle_timeout(sim.now()); // a spurious wakeup 1 ms early
    assert!(sim.drain().is_empty());
    assert_eq!(sim.m.status().kind, StatusKind::Connecting);
    assert_eq!(sim.advance(ms(1)), [Action::Close]);
    assert_eq!(sim.m.status().reason, Reason::ConnectTimeout);
    assert_eq!(sim.m.retry_at(), Some(sim.now() + secs(1)));
    assert_eq!(sim.advance(secs(1)), [Action::Connect]);
}

#[test]
fn stop_disables() {
    let mut sim = started(Policy::default(), 1);
    sim.m.handle_connected(sim.now());
    sim.m.stop();
    assert_eq!(sim.drain(), [Action::Close]);
    assert_eq!(
        sim.m.status(),
        Status {
            kind: StatusKind::Disabled,
            reason: Reason::Stopped
        }
    );
    assert!(sim.advance(secs(3_600)).is_empty());
}

#[test]
fn session_ended_disables() {
    let mut sim = started(Policy::default(), 1);
    sim.m.handle_connected(sim.now());
    sim.m
        .handle_disconnected(sim.now(), Disconnect::SessionEnded);
    assert_eq!(sim.drain(), [Action::Close]);
    assert_eq!(sim.m.status().kind, StatusKind::Disabled);
    assert_eq!(sim.m.status().reason, Reason::SessionEnded);
    assert!(sim.advance(secs(3_600)).is_empty());
}

#[test]
fn retry_at_counts_down_for_the_ui() {
    let mut sim = started(no_jitter(), 1);
    sim.m.handle_disconnected(sim.now(), Disconnect::Network);
    let _ = sim.drain();
    let at = sim.m.retry_at().expect("waiting");
    assert_eq!(at - sim.now(), secs(1));
    sim.advance(secs(1));
    assert_eq!(sim.m.retry_at(), None);
}

// ---------------------------------------------------------------------------------------------
// Properties

#[derive(Debug, Clone)]
enum Op {
    Start,
    Stop,
    Connected,
    Bytes,
    RetryHint(u64),
    Disconnected(Disconnect),
    /// Fire the timer at its deadline (if armed).
    Timeout,
    /// A spurious `handle_timeout` at the current time.
    EarlyTimeout,
    /// `handle_timeout` this many ms before the deadline: must change nothing.
    JustBefore(u64),
    /// Time passes without the timer being serviced (a slow shell).
    Advance(u64),
    /// The shell services the timer `late` ms after its deadline.
    LateTimeout(u64),
}

fn disconnect() -> impl Strategy<Value = Disconnect> {
    prop_oneof![
        Just(Disconnect::Network),
        Just(Disconnect::EndOfStream),
        Just(Disconnect::NotEventStream),
        Just(Disconnect::SessionEnded),
        (0u16..=600).prop_map(Disconnect::HttpStatus),
        prop::sample::select(vec![200u16, 204, 404, 408, 429, 500, 503])
            .prop_map(Disconnect::HttpStatus),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Start),
        1 => Just(Op::Stop),
        4 => Just(Op::Connected),
        6 => Just(Op::Bytes),
        1 => (0u64..200_000).prop_map(Op::RetryHint),
        5 => disconnect().prop_map(Op::Disconnected),
        6 => Just(Op::Timeout),
        2 => Just(Op::EarlyTimeout),
        3 => prop_oneof![1u64..=2, 1u64..=2_000].prop_map(Op::JustBefore),
        6 => (0u64..120_000).prop_map(Op::Advance),
        2 => (0u64..30_000).prop_map(Op::LateTimeout),
    ]
}

/// What the test (playing the shell) knows; checked against the machine after every step.
#[derive(Default)]
struct Shell {
    /// A connection is held: `Connect` seen, no `Close` since.
    holding: bool,
    /// The stream is open as far as the machine is concerned, and the last liveness it saw.
    last_live: Option<Instant>,
    retry_at: Option<Instant>,
}

fn run(policy: Policy, seed: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let cap = policy.max_backoff;
    let idle = policy.idle_timeout;
    let mut sim = Sim::new(Reconnect::new(policy, seed));
    let mut shell = Shell::default();
    for op in ops {
        let before = sim.m.status();
        let now = sim.now();
        let mut serviced_timer = false;
        match *op {
            Op::Start => sim.m.start(now),
            Op::Stop => sim.m.stop(),
            // A real shell reports only about a connection it holds; fuzz both ways.
            Op::Connected => sim.m.handle_connected(now),
            Op::Bytes => sim.m.handle_bytes(now),
            Op::RetryHint(n) => sim.m.handle_retry_hint(ms(n)),
            Op::Disconnected(why) => sim.m.handle_disconnected(now, why),
            Op::Timeout => {
                if let Some(t) = sim.m.poll_timeout() {
                    let now = sim.clock.jump_to(t);
                    sim.m.handle_timeout(now);
                    serviced_timer = true;
                }
            }
            Op::EarlyTimeout => sim.m.handle_timeout(now),
            Op::JustBefore(early) => {
                if let Some(t) = sim.m.poll_timeout()
                    && t.as_millis() >= early
                {
                    let at = Instant::from_millis(t.as_millis() - early);
                    let now = sim.clock.jump_to(at);
                    sim.m.handle_timeout(now);
                    if now < t {
                        prop_assert_eq!(sim.m.status(), before, "early timeout changed the state");
                        prop_assert_eq!(sim.m.poll_timeout(), Some(t));
                    }
                }
            }
            Op::Advance(n) => {
                sim.clock.advance(ms(n));
            }
            Op::LateTimeout(late) => {
                if let Some(t) = sim.m.poll_timeout() {
                    let now = sim.clock.jump_to(t + ms(late));
                    sim.m.handle_timeout(now);
                    serviced_timer = true;
                }
            }
        }
        let now = sim.now();
        let after = sim.m.status();

        // Watchdog: a NoHeartbeat drop only after idle_timeout of silence.
        if before.kind == StatusKind::Connected
            && after.kind != StatusKind::Connected
            && after.reason == Reason::NoHeartbeat
        {
            let live = shell.last_live.expect("connected has a liveness time");
            prop_assert!(
                now - live >= idle,
                "watchdog after {} of silence",
                now - live
            );
        }
        match after.kind {
            StatusKind::Connected => {
                let live = if before.kind == StatusKind::Connected {
                    shell.last_live.unwrap_or(now)
                } else {
                    now
                };
                shell.last_live = Some(if matches!(op, Op::Bytes) {
                    live.max(now)
                } else {
                    live
                });
            }
            _ => shell.last_live = None,
        }

        // Backoff: every new wait is within [now, now + cap] and never above 60 s by default.
        let retry_at = sim.m.retry_at();
        if let Some(t) = retry_at
            && retry_at != shell.retry_at
        {
            prop_assert!(t >= now, "backoff in the past");
            prop_assert!(t - now <= cap, "backoff {} above cap {}", t - now, cap);
        }
        shell.retry_at = retry_at;

        // After the timer was serviced nothing is overdue.
        if serviced_timer && let Some(t) = sim.m.poll_timeout() {
            prop_assert!(t > now || (t == now && after.kind == StatusKind::Disconnected));
        }

        // Actions: never two connections at once.
        for a in sim.drain() {
            match a {
                Action::Connect => {
                    prop_assert!(!shell.holding, "Connect while a connection is held");
                    shell.holding = true;
                }
                Action::Close => shell.holding = false,
                a => panic!("an action this test does not know: {a:?}"),
            }
        }
        // A held connection exists only while connecting or connected.
        if shell.holding {
            prop_assert!(matches!(
                after.kind,
                StatusKind::Connecting | StatusKind::Connected
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn default_policy_invariants(seed: u64, ops in prop::collection::vec(op(), 0..200)) {
        run(Policy::default(), seed, &ops)?;
    }

    #[test]
    fn any_policy_never_panics_and_respects_the_cap(
        seed: u64,
        initial in 0u64..100_000,
        factor in 0u16..=1_000,
        cap in 0u64..120_000,
        jitter: u8,
        connect in 1u64..60_000,
        idle in 1u64..120_000,
        healthy in 0u64..60_000,
        ops in prop::collection::vec(op(), 0..100),
    ) {
        let mut p = Policy::default();
        p.initial_backoff = ms(initial);
        p.backoff_factor_pct = factor;
        p.max_backoff = ms(cap);
        p.jitter_pct = jitter;
        p.connect_timeout = ms(connect);
        p.idle_timeout = ms(idle);
        p.healthy_after = ms(healthy);
        run(p, seed, &ops)?;
    }
}

#[test]
fn default_cap_is_60_s() {
    assert_eq!(Policy::default().max_backoff, secs(60));
}
