use super::Heartbeat;
use crate::time::{Duration, Instant};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

#[test]
fn first_beat_one_interval_after_start() {
    let hb = Heartbeat::new(at(1_000), Duration::from_secs(15));
    assert_eq!(hb.poll_timeout(), at(16_000));
    assert_eq!(hb.interval(), Duration::from_secs(15));
}

#[test]
fn early_calls_do_nothing() {
    let mut hb = Heartbeat::new(at(0), Duration::from_secs(15));
    assert!(!hb.handle_timeout(at(0)));
    assert!(!hb.handle_timeout(at(14_999)));
    assert_eq!(hb.poll_timeout(), at(15_000));
}

#[test]
fn on_time_wakeups_beat_once_per_interval() {
    let mut hb = Heartbeat::new(at(0), Duration::from_secs(15));
    for k in 1..=5 {
        let due = hb.poll_timeout();
        assert_eq!(due, at(15_000 * k));
        assert!(hb.handle_timeout(due));
        assert!(
            !hb.handle_timeout(due),
            "a second call at the same time is not a beat"
        );
    }
}

#[test]
fn late_wakeup_beats_once_and_keeps_the_grid() {
    let mut hb = Heartbeat::new(at(0), Duration::from_secs(15));
    // The task stalled for a minute: one beat, not four.
    assert!(hb.handle_timeout(at(61_000)));
    assert_eq!(hb.poll_timeout(), at(75_000));
    assert!(!hb.handle_timeout(at(61_000)));
    assert!(!hb.handle_timeout(at(74_999)));
    assert!(hb.handle_timeout(at(75_000)));
}

#[test]
fn wakeup_exactly_on_a_later_grid_point_moves_past_it() {
    let mut hb = Heartbeat::new(at(0), Duration::from_secs(10));
    assert!(hb.handle_timeout(at(30_000)));
    assert_eq!(hb.poll_timeout(), at(40_000));
}

#[test]
fn zero_interval_does_not_spin() {
    let mut hb = Heartbeat::new(at(5), Duration::ZERO);
    assert_eq!(hb.interval(), Duration::from_millis(1));
    assert!(hb.handle_timeout(at(6)));
    assert!(!hb.handle_timeout(at(6)));
    assert_eq!(hb.poll_timeout(), at(7));
}

#[test]
fn far_future_saturates_without_panic() {
    let mut hb = Heartbeat::new(at(u64::MAX - 3), Duration::from_secs(15));
    assert_eq!(hb.poll_timeout(), at(u64::MAX));
    assert!(hb.handle_timeout(at(u64::MAX)));
    assert_eq!(hb.poll_timeout(), at(u64::MAX));
}

#[test]
fn never_more_than_one_beat_per_interval() {
    // Random-ish wakeups: beats are always at least one interval apart in grid terms.
    let mut hb = Heartbeat::new(at(0), Duration::from_millis(100));
    let mut now = 0u64;
    let mut beats = 0u64;
    for step in [1u64, 99, 250, 3, 3, 1_000, 50, 50, 0, 7, 100] {
        now += step;
        if hb.handle_timeout(at(now)) {
            beats += 1;
            assert!(hb.poll_timeout() > at(now));
        }
    }
    assert!(beats <= now / 100);
}
