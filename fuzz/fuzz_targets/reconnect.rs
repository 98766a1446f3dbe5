//! The `reconnect_ops` check (also replayed over the committed corpus by
//! `tests/it/fuzz_corpus.rs`): drives `Reconnect` with arbitrary operation sequences and
//! arbitrary time steps (quinn-proto's fuzz style) and checks the invariants: no panic, the
//! delay never exceeds the cap, never two connections at once, the watchdog never fires early,
//! an early `handle_timeout` changes nothing.

use arbitrary::Arbitrary;
use sse_core::reconnect::{Action, Disconnect, Policy, Reason, Reconnect, StatusKind};
use sse_core::{Duration, Instant};

#[derive(Debug, Arbitrary)]
enum Why {
    Network,
    EndOfStream,
    HttpStatus(u16),
    NotEventStream,
    SessionEnded,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Start,
    Stop,
    Connected,
    Bytes,
    RetryHint(u32),
    Disconnected(Why),
    /// Fire the timer `late` ms after its deadline.
    Timeout {
        late: u16,
    },
    /// `handle_timeout` `early` ms before the deadline.
    Early {
        early: u16,
    },
    Advance(u32),
    Poll,
}

#[derive(Debug, Arbitrary)]
pub struct Input {
    seed: u64,
    /// `None`: the default policy. Otherwise milliseconds / percentages, bounded below.
    policy: Option<(u32, u16, u32, u8, u32, u32, u32)>,
    ops: Vec<Op>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `input` and asserts the invariants.
pub fn check(input: &Input) {
    let mut policy = Policy::default();
    if let Some((initial, factor, cap, jitter, connect, idle, healthy)) = input.policy {
        policy.initial_backoff = ms(initial.into());
        policy.backoff_factor_pct = factor;
        policy.max_backoff = ms(cap.into());
        policy.jitter_pct = jitter;
        policy.connect_timeout = ms(u64::from(connect).max(1));
        policy.idle_timeout = ms(u64::from(idle).max(1));
        policy.healthy_after = ms(healthy.into());
    }
    let mut rc = Reconnect::new(policy, input.seed);
    let mut now = Instant::ZERO;
    let mut holding = false;
    let mut last_live: Option<Instant> = None;
    let mut retry_at = None;

    for op in input.ops.iter().take(1_000) {
        let before = rc.status();
        match *op {
            Op::Start => rc.start(now),
            Op::Stop => rc.stop(),
            Op::Connected => rc.handle_connected(now),
            Op::Bytes => rc.handle_bytes(now),
            Op::RetryHint(n) => rc.handle_retry_hint(ms(n.into())),
            Op::Disconnected(ref why) => {
                let why = match *why {
                    Why::Network => Disconnect::Network,
                    Why::EndOfStream => Disconnect::EndOfStream,
                    Why::HttpStatus(c) => Disconnect::HttpStatus(c),
                    Why::NotEventStream => Disconnect::NotEventStream,
                    Why::SessionEnded => Disconnect::SessionEnded,
                };
                rc.handle_disconnected(now, why);
            }
            Op::Timeout { late } => {
                if let Some(t) = rc.poll_timeout() {
                    now = now.max(t + ms(late.into()));
                    rc.handle_timeout(now);
                }
            }
            Op::Early { early } => {
                if let Some(t) = rc.poll_timeout() {
                    let at = Instant::from_millis(t.as_millis().saturating_sub(early.into()));
                    if at >= now && at < t {
                        now = at;
                        rc.handle_timeout(now);
                        assert_eq!(rc.status(), before, "early timeout changed the state");
                        assert_eq!(rc.poll_timeout(), Some(t));
                    }
                }
            }
            Op::Advance(n) => now = now + ms(n.into()),
            Op::Poll => {}
        }
        let after = rc.status();

        if before.kind == StatusKind::Connected
            && after.kind != StatusKind::Connected
            && after.reason == Reason::NoHeartbeat
        {
            let live = last_live.expect("was connected");
            assert!(now - live >= policy.idle_timeout, "watchdog fired early");
        }
        last_live = match after.kind {
            StatusKind::Connected if before.kind == StatusKind::Connected => {
                let live = last_live.unwrap_or(now);
                Some(if matches!(op, Op::Bytes) {
                    live.max(now)
                } else {
                    live
                })
            }
            StatusKind::Connected => Some(now),
            _ => None,
        };

        let r = rc.retry_at();
        if let Some(t) = r
            && r != retry_at
        {
            assert!(
                t >= now && t - now <= policy.max_backoff,
                "delay out of [0, cap]"
            );
        }
        retry_at = r;

        // Only `Poll` and state changes hand actions out, so queued actions also get exercised.
        if matches!(op, Op::Poll) || before != after {
            for _ in 0..4 {
                match rc.poll_action() {
                    Some(Action::Connect) => {
                        assert!(!holding, "two connections at once");
                        holding = true;
                    }
                    Some(Action::Close) => holding = false,
                    Some(a) => panic!("an action this target does not know: {a:?}"),
                    None => break,
                }
            }
            assert_eq!(rc.poll_action(), None, "more than Close + Connect queued");
        }
    }
}
