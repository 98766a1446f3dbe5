// Tests mutate a default `Policy` the way other crates must (it is `#[non_exhaustive]`).
#![allow(clippy::field_reassign_with_default)]

use super::*;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A started client whose first `Connect` has been handed out.
fn started(policy: Policy) -> Reconnect {
    let mut rc = Reconnect::new(policy, 7);
    rc.start(at(0));
    assert_eq!(rc.poll_action(), Some(Action::Connect));
    assert_eq!(rc.poll_action(), None);
    rc
}

/// `Display` output without `to_string`/`format!` (the tidy check greps `core/src` for them).
fn shown(x: impl core::fmt::Display) -> std::string::String {
    use core::fmt::Write;
    let mut s = std::string::String::new();
    write!(s, "{x}").unwrap();
    s
}

/// Everything the machine wants done now, in order.
fn drain(rc: &mut Reconnect) -> std::vec::Vec<Action> {
    core::iter::from_fn(|| rc.poll_action()).collect()
}

fn no_jitter() -> Policy {
    let mut p = Policy::default();
    p.jitter_pct = 0;
    p
}

#[test]
fn default_policy_matches_the_design() {
    let p = Policy::default();
    assert_eq!(p.initial_backoff, secs(1));
    assert_eq!(p.backoff_factor_pct, 150);
    assert_eq!(p.max_backoff, secs(60));
    assert_eq!(p.jitter_pct, 20);
    assert_eq!(p.connect_timeout, secs(10));
    assert_eq!(p.idle_timeout, secs(45));
    assert_eq!(p.healthy_after, secs(10));
}

#[test]
fn idle_until_started() {
    let mut rc = Reconnect::new(Policy::default(), 1);
    assert_eq!(rc.poll_action(), None);
    assert_eq!(rc.poll_timeout(), None);
    assert_eq!(rc.status().kind, StatusKind::Disconnected);
    rc.handle_timeout(at(1_000_000));
    rc.handle_connected(at(1));
    rc.handle_disconnected(at(1), Disconnect::Network);
    assert_eq!(rc.poll_action(), None);
}

#[test]
fn backoff_grows_by_half_and_caps() {
    let mut policy = Policy::default();
    policy.max_backoff = secs(4);
    let mut rc = started(policy);
    let mut now = at(0);
    // Nominal 1 000, 1 500, 2 250, 3 375, 4 000 (capped): jitter adds up to 20 %, and near the
    // cap the window moves down to end at it.
    for (lo, hi) in [
        (1_000, 1_200),
        (1_500, 1_800),
        (2_250, 2_700),
        (3_325, 4_000),
        (3_200, 4_000),
        (3_200, 4_000),
    ] {
        rc.handle_disconnected(now, Disconnect::Network);
        assert_eq!(rc.poll_action(), Some(Action::Close));
        let wake = rc.poll_timeout().expect("backoff armed");
        let delay = wake - now;
        assert!(delay <= Duration::from_millis(hi), "{delay} > {hi}");
        assert!(delay >= Duration::from_millis(lo), "{delay} < {lo}");
        now = wake;
        rc.handle_timeout(now);
        assert_eq!(rc.poll_action(), Some(Action::Connect));
    }
}

#[test]
fn nominal_backoff_is_exact_integer_maths() {
    let rc = Reconnect::new(no_jitter(), 0);
    let got: std::vec::Vec<u64> = (0..13).map(|n| rc.nominal_backoff(n).as_millis()).collect();
    assert_eq!(
        got,
        [
            1_000, 1_500, 2_250, 3_375, 5_062, 7_593, 11_389, 17_083, 25_624, 38_436, 57_654,
            60_000, 60_000
        ]
    );
    assert_eq!(rc.nominal_backoff(u32::MAX), secs(60));
}

#[test]
fn without_jitter_the_delay_is_the_nominal_one() {
    let mut rc = started(no_jitter());
    rc.handle_disconnected(at(0), Disconnect::EndOfStream);
    assert_eq!(rc.retry_at(), Some(at(1_000)));
}

#[test]
fn a_gap_backs_off_like_an_end_of_stream() {
    // Same seed, same policy: a gap and an end of stream retry at the same time; the text says
    // which it was.
    let mut lost = false;
    for _ in 0..3 {
        let (mut gap, mut eos) = (started(Policy::default()), started(Policy::default()));
        let mut now = at(0);
        for _ in 0..5 {
            gap.handle_disconnected(now, Disconnect::Gap);
            eos.handle_disconnected(now, Disconnect::EndOfStream);
            assert_eq!(gap.status().kind, eos.status().kind);
            assert_eq!(eos.status().reason, Reason::ServerClosed);
            lost |= gap.status().reason == Reason::ConnectionLost;
            assert_eq!(gap.poll_action(), Some(Action::Close));
            assert_eq!(eos.poll_action(), Some(Action::Close));
            assert_eq!(gap.poll_timeout(), eos.poll_timeout());
            now = gap.poll_timeout().expect("backoff armed");
            gap.handle_timeout(now);
            eos.handle_timeout(now);
            assert_eq!(gap.poll_action(), eos.poll_action());
        }
    }
    assert!(lost, "a gap is shown as \"Connection lost\"");
}

#[test]
fn full_jitter_stays_within_zero_and_cap() {
    let mut p = Policy::default();
    p.jitter_pct = 255; // counts as 100
    let mut rc = started(p);
    let mut now = at(0);
    for _ in 0..50 {
        rc.handle_disconnected(now, Disconnect::Network);
        let wake = rc.poll_timeout().expect("armed");
        assert!(wake - now <= secs(60));
        now = wake;
        rc.handle_timeout(now);
        assert_eq!(drain(&mut rc), [Action::Close, Action::Connect]);
    }
}

#[test]
fn retry_hint_sets_the_base() {
    let mut rc = started(no_jitter());
    rc.handle_retry_hint(secs(3));
    rc.handle_disconnected(at(0), Disconnect::Network);
    assert_eq!(rc.retry_at(), Some(at(3_000)));
    rc.handle_timeout(at(3_000));
    assert_eq!(rc.poll_action(), Some(Action::Close));
    assert_eq!(rc.poll_action(), Some(Action::Connect));
    rc.handle_disconnected(at(3_000), Disconnect::Network);
    assert_eq!(rc.retry_at(), Some(at(7_500)));
}

#[test]
fn retry_hint_of_zero_is_floored() {
    let mut rc = started(no_jitter());
    rc.handle_retry_hint(Duration::ZERO);
    rc.handle_disconnected(at(0), Disconnect::Network);
    assert_eq!(rc.retry_at(), Some(at(0) + MIN_RETRY_HINT));
}

#[test]
fn huge_retry_hint_is_capped() {
    let mut rc = started(no_jitter());
    rc.handle_retry_hint(Duration::MAX);
    rc.handle_disconnected(at(0), Disconnect::Network);
    assert_eq!(rc.retry_at(), Some(at(60_000)));
}

#[test]
fn attempt_resets_only_after_healthy() {
    let mut rc = started(no_jitter());
    let mut now = at(0);
    // Three quick failures.
    for _ in 0..3 {
        rc.handle_disconnected(now, Disconnect::Network);
        now = rc.retry_at().expect("waiting");
        rc.handle_timeout(now);
        assert_eq!(drain(&mut rc), [Action::Close, Action::Connect]);
    }
    assert_eq!(rc.attempt(), 3);
    rc.handle_connected(now);
    rc.handle_bytes(now + secs(9));
    assert_eq!(rc.attempt(), 3, "open for 9 s is not yet healthy");
    rc.handle_bytes(now + secs(10));
    assert_eq!(rc.attempt(), 0, "bytes after 10 s prove health");
    rc.handle_disconnected(now + secs(20), Disconnect::EndOfStream);
    assert_eq!(rc.retry_at(), Some(now + secs(21)));
}

#[test]
fn a_silent_connection_is_not_healthy() {
    let mut rc = started(no_jitter());
    rc.handle_disconnected(at(0), Disconnect::Network);
    rc.handle_timeout(at(1_000));
    assert_eq!(drain(&mut rc), [Action::Close, Action::Connect]);
    rc.handle_connected(at(1_000));
    // No bytes at all: the watchdog fires, and the count still grows.
    rc.handle_timeout(at(46_000));
    assert_eq!(rc.status().reason, Reason::NoHeartbeat);
    assert_eq!(rc.attempt(), 2);
    assert_eq!(rc.retry_at(), Some(at(46_000 + 1_500)));
}

#[test]
fn accept_then_close_does_not_storm() {
    let mut rc = started(no_jitter());
    let mut now = at(0);
    let mut delays = std::vec::Vec::new();
    for _ in 0..20 {
        // The server answers 200 + text/event-stream, sends its first bytes, and hangs up.
        rc.handle_connected(now);
        rc.handle_bytes(now);
        rc.handle_disconnected(now, Disconnect::EndOfStream);
        let until = rc.retry_at().expect("waiting");
        delays.push((until - now).as_millis());
        now = until;
        rc.handle_timeout(now);
        assert_eq!(drain(&mut rc), [Action::Close, Action::Connect]);
    }
    assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
    assert_eq!(delays[0], 1_000);
    assert_eq!(*delays.last().unwrap(), 60_000);
}

#[test]
fn connect_timeout_closes_and_backs_off() {
    let mut rc = started(no_jitter());
    assert_eq!(rc.poll_timeout(), Some(at(10_000)));
    rc.handle_timeout(at(9_999));
    assert_eq!(rc.poll_action(), None);
    assert_eq!(rc.status().kind, StatusKind::Connecting);
    rc.handle_timeout(at(10_000));
    assert_eq!(rc.poll_action(), Some(Action::Close));
    assert_eq!(
        rc.status(),
        Status {
            kind: StatusKind::Disconnected,
            reason: Reason::ConnectTimeout
        }
    );
    assert_eq!(rc.retry_at(), Some(at(11_000)));
}

#[test]
fn watchdog_fires_only_after_idle_timeout_since_last_byte() {
    let mut rc = started(no_jitter());
    rc.handle_connected(at(100));
    rc.handle_bytes(at(20_000));
    assert_eq!(rc.poll_timeout(), Some(at(65_000)));
    rc.handle_timeout(at(64_999));
    assert_eq!(rc.status().kind, StatusKind::Connected);
    assert_eq!(rc.poll_action(), None);
    rc.handle_timeout(at(65_000));
    assert_eq!(rc.poll_action(), Some(Action::Close));
    assert_eq!(
        shown(rc.status()),
        "disconnected: Connection timed out (no heartbeat)"
    );
}

#[test]
fn bytes_with_an_older_timestamp_do_not_rewind_the_watchdog() {
    let mut rc = started(no_jitter());
    rc.handle_connected(at(0));
    rc.handle_bytes(at(5_000));
    rc.handle_bytes(at(1_000));
    assert_eq!(rc.poll_timeout(), Some(at(50_000)));
}

#[test]
fn fatal_statuses_disable() {
    for code in [204, 400, 401, 403, 404, 410, 499] {
        let mut rc = started(Policy::default());
        rc.handle_disconnected(at(0), Disconnect::HttpStatus(code));
        assert_eq!(
            rc.status(),
            Status {
                kind: StatusKind::Disabled,
                reason: Reason::HttpStatus(code)
            }
        );
        assert_eq!(rc.poll_action(), Some(Action::Close));
        assert_eq!(rc.poll_timeout(), None);
        rc.handle_timeout(at(1_000_000));
        assert_eq!(rc.poll_action(), None);
    }
}

#[test]
fn retryable_statuses_back_off() {
    for code in [500, 502, 503, 504, 408, 429, 200, 301, 100] {
        let mut rc = started(Policy::default());
        rc.handle_disconnected(at(0), Disconnect::HttpStatus(code));
        assert_eq!(
            rc.status(),
            Status {
                kind: StatusKind::Disconnected,
                // An error status is shown as itself; 1xx-3xx (no stream) as a lost connection.
                reason: if code >= 400 {
                    Reason::HttpStatus(code)
                } else {
                    Reason::ConnectionLost
                }
            },
            "{code}"
        );
        assert!(rc.retry_at().is_some());
    }
}

#[test]
fn the_reason_says_who_ended_the_connection() {
    // Before any response: the server could not be reached.
    let mut rc = started(Policy::default());
    rc.handle_disconnected(at(0), Disconnect::Network);
    assert_eq!(shown(rc.status()), "disconnected: Server unreachable");
    // The stream was open: a network error loses it; a body that ends is the server's doing.
    for (why, text) in [
        (Disconnect::Network, "disconnected: Connection lost"),
        (
            Disconnect::EndOfStream,
            "disconnected: Server closed the stream",
        ),
        (Disconnect::Gap, "disconnected: Connection lost"),
    ] {
        let mut rc = started(Policy::default());
        rc.handle_connected(at(1));
        rc.handle_disconnected(at(2), why);
        assert_eq!(shown(rc.status()), text, "{why:?}");
    }
    // A body that ended before the stream was declared open is still the server's doing.
    let mut rc = started(Policy::default());
    rc.handle_disconnected(at(0), Disconnect::EndOfStream);
    assert_eq!(rc.status().reason, Reason::ServerClosed);
}

#[test]
fn not_an_event_stream_disables() {
    let mut rc = started(Policy::default());
    rc.handle_disconnected(at(0), Disconnect::NotEventStream);
    assert_eq!(shown(rc.status()), "disabled: Not an event stream");
}

#[test]
fn session_ended_disables_and_closes() {
    let mut rc = started(Policy::default());
    rc.handle_connected(at(0));
    rc.handle_disconnected(at(5), Disconnect::SessionEnded);
    assert_eq!(rc.poll_action(), Some(Action::Close));
    assert_eq!(shown(rc.status()), "disabled: Session ended");
}

#[test]
fn stop_disables_and_start_begins_afresh() {
    let mut rc = started(no_jitter());
    rc.handle_disconnected(at(0), Disconnect::Network);
    rc.handle_timeout(at(1_000));
    assert_eq!(drain(&mut rc), [Action::Close, Action::Connect]);
    rc.handle_connected(at(1_000));
    rc.stop();
    assert_eq!(rc.poll_action(), Some(Action::Close));
    assert_eq!(shown(rc.status()), "disabled: Stopped");
    assert_eq!(rc.poll_timeout(), None);
    rc.start(at(2_000));
    assert_eq!(rc.attempt(), 0);
    assert_eq!(rc.poll_action(), Some(Action::Connect));
}

#[test]
fn start_while_waiting_retries_now_and_keeps_the_count() {
    let mut rc = started(no_jitter());
    rc.handle_disconnected(at(0), Disconnect::Network);
    assert_eq!(rc.poll_action(), Some(Action::Close));
    rc.start(at(10));
    assert_eq!(rc.poll_action(), Some(Action::Connect));
    assert_eq!(rc.attempt(), 1);
    rc.start(at(20));
    assert_eq!(rc.poll_action(), None, "already connecting");
}

#[test]
fn stop_before_the_connect_was_polled_withdraws_it() {
    let mut rc = Reconnect::new(Policy::default(), 3);
    rc.start(at(0));
    rc.stop();
    assert_eq!(rc.poll_action(), None);
}

#[test]
fn reports_about_a_connection_not_handed_out_are_ignored() {
    let mut rc = Reconnect::new(Policy::default(), 3);
    rc.start(at(0));
    rc.handle_connected(at(1));
    rc.handle_disconnected(at(1), Disconnect::HttpStatus(404));
    assert_eq!(rc.status().kind, StatusKind::Connecting);
    assert_eq!(rc.poll_action(), Some(Action::Connect));
}

#[test]
fn stale_disconnect_while_waiting_is_ignored() {
    let mut rc = started(no_jitter());
    rc.handle_disconnected(at(0), Disconnect::Network);
    let until = rc.retry_at();
    rc.handle_disconnected(at(10), Disconnect::HttpStatus(404));
    assert_eq!(rc.retry_at(), until);
    assert_eq!(rc.status().reason, Reason::Unreachable);
}

#[test]
fn same_seed_same_schedule() {
    let run = |seed| {
        let mut rc = started_with_seed(seed);
        let mut now = at(0);
        let mut out = std::vec::Vec::new();
        for _ in 0..10 {
            rc.handle_disconnected(now, Disconnect::Network);
            now = rc.retry_at().expect("waiting");
            out.push(now);
            rc.handle_timeout(now);
            let _ = drain(&mut rc);
        }
        out
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

fn started_with_seed(seed: u64) -> Reconnect {
    let mut rc = Reconnect::new(Policy::default(), seed);
    rc.start(at(0));
    let _ = rc.poll_action();
    rc
}

#[test]
fn display_strings() {
    let cases = [
        (Reason::Connecting, "Connecting..."),
        (Reason::Connected, "Connected"),
        (Reason::ConnectionLost, "Connection lost"),
        (Reason::ServerClosed, "Server closed the stream"),
        (Reason::Unreachable, "Server unreachable"),
        (Reason::NoHeartbeat, "Connection timed out (no heartbeat)"),
        (Reason::ConnectTimeout, "Connection timed out"),
        (Reason::HttpStatus(404), "HTTP 404"),
        (Reason::NotEventStream, "Not an event stream"),
        (Reason::SessionEnded, "Session ended"),
        (Reason::Stopped, "Stopped"),
        (Reason::GaveUp(1), "Gave up after 1 retry"),
        (Reason::GaveUp(3), "Gave up after 3 retries"),
    ];
    for (reason, text) in cases {
        assert_eq!(shown(reason), text);
    }
    let kinds = [
        (StatusKind::Connected, "connected"),
        (StatusKind::Connecting, "connecting"),
        (StatusKind::Disconnected, "disconnected"),
        (StatusKind::Disabled, "disabled"),
    ];
    for (kind, text) in kinds {
        assert_eq!(shown(kind), text);
    }
}

#[test]
fn tiny_factor_still_grows_and_terminates() {
    let mut p = no_jitter();
    p.initial_backoff = Duration::from_millis(1);
    p.backoff_factor_pct = 101;
    let rc = Reconnect::new(p, 0);
    assert!(rc.nominal_backoff(10) > rc.nominal_backoff(0));
    assert!(rc.nominal_backoff(u32::MAX) <= secs(60));
    p.backoff_factor_pct = 50; // counts as 100: constant delay
    let rc = Reconnect::new(p, 0);
    assert_eq!(rc.nominal_backoff(100), Duration::from_millis(1));
}

#[test]
fn two_hundreds_other_than_200_are_terminal() {
    for code in [201, 205, 210, 299] {
        let mut rc = started(Policy::default());
        rc.handle_disconnected(at(0), Disconnect::HttpStatus(code));
        assert_eq!(
            rc.status(),
            Status {
                kind: StatusKind::Disabled,
                reason: Reason::HttpStatus(code)
            },
            "{code}"
        );
        assert_eq!(rc.poll_timeout(), None);
    }
}

/// Fails `n` times in a row (each attempt refused at once), starting from a handed-out `Connect`.
fn fail_times(rc: &mut Reconnect, mut now: Instant, n: u32) -> Instant {
    for _ in 0..n {
        rc.handle_disconnected(now, Disconnect::Network);
        now = rc.retry_at().expect("waiting");
        rc.handle_timeout(now);
        assert_eq!(drain(rc), [Action::Close, Action::Connect]);
    }
    now
}

#[test]
fn a_new_retry_hint_restarts_growth() {
    let mut rc = started(no_jitter());
    let now = fail_times(&mut rc, at(0), 3);
    // Connected, the server says `retry: 300` and goes away: wait 300 ms, not 300 × 1.5³.
    rc.handle_connected(now);
    rc.handle_retry_hint(Duration::from_millis(300));
    rc.handle_disconnected(now, Disconnect::EndOfStream);
    assert_eq!(rc.retry_at(), Some(now + Duration::from_millis(300)));
    // Growth goes on from the new base, and the count (for --max-retries) was kept.
    assert_eq!(rc.attempt(), 4);
    let now = rc.retry_at().unwrap();
    rc.handle_timeout(now);
    let _ = drain(&mut rc);
    rc.handle_disconnected(now, Disconnect::Network);
    assert_eq!(rc.retry_at(), Some(now + Duration::from_millis(450)));
}

#[test]
fn the_same_retry_hint_again_does_not_restart_growth() {
    // Our server opens every stream with the same `retry:`; an accept-then-close server that does
    // so must still back off.
    let mut rc = started(no_jitter());
    let mut now = at(0);
    let mut delays = std::vec::Vec::new();
    for _ in 0..4 {
        rc.handle_connected(now);
        rc.handle_retry_hint(secs(1));
        rc.handle_disconnected(now, Disconnect::EndOfStream);
        let until = rc.retry_at().unwrap();
        delays.push((until - now).as_millis());
        now = until;
        rc.handle_timeout(now);
        let _ = drain(&mut rc);
    }
    assert_eq!(delays, [1_000, 1_500, 2_250, 3_375]);
}

#[test]
fn jitter_never_waits_less_than_the_reconnection_time() {
    for seed in 0..200 {
        let mut rc = Reconnect::new(Policy::default(), seed);
        rc.start(at(0));
        let _ = drain(&mut rc);
        rc.handle_retry_hint(Duration::from_millis(300));
        rc.handle_disconnected(at(0), Disconnect::Network);
        let d = rc.retry_at().unwrap() - at(0);
        assert!(d >= Duration::from_millis(300), "seed {seed}: {d}");
        assert!(d <= Duration::from_millis(360), "seed {seed}: {d}");
    }
    // At the cap the window moves below it, but never under the base.
    let mut p = Policy::default();
    p.max_backoff = Duration::from_millis(1_100);
    for seed in 0..200 {
        let mut rc = Reconnect::new(p, seed);
        rc.start(at(0));
        let _ = drain(&mut rc);
        let now = fail_times(&mut rc, at(0), 3);
        rc.handle_disconnected(now, Disconnect::Network);
        let d = rc.retry_at().unwrap() - now;
        assert!(d >= secs(1) && d <= Duration::from_millis(1_100), "{d}");
    }
}

#[test]
fn max_retries_gives_up() {
    let mut p = no_jitter();
    p.max_retries = Some(2);
    let mut rc = started(p);
    let now = fail_times(&mut rc, at(0), 2);
    assert_eq!(rc.attempt(), 2);
    rc.handle_disconnected(now, Disconnect::Network);
    assert_eq!(shown(rc.status()), "disabled: Gave up after 2 retries");
    assert_eq!(drain(&mut rc), [Action::Close]);
    assert_eq!(rc.poll_timeout(), None);
    // Zero: not even one retry.
    p.max_retries = Some(0);
    let mut rc = started(p);
    rc.handle_timeout(at(10_000));
    assert_eq!(rc.status().reason, Reason::GaveUp(0));
}
