//! The server's heartbeat schedule.
//!
//! One `Heartbeat` per server (not per subscriber) says when to send the next `heartbeat` event.
//! Beats sit on a fixed grid `start + k × interval`. A late wakeup sends one beat and skips the
//! grid points it missed, so a stalled task never bursts a backlog of heartbeats: a heartbeat
//! says "alive now", and ten of them at once say nothing more.
//!
//! ```text
//!   grid:    |----i----|----i----|----i----|----i----|
//!   wakeup:            ^ beat          (late)   ^ one beat, next = following grid point
//! ```

use crate::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// The smallest interval; `0` would make every call due and spin the shell's timer loop.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// A fixed-interval schedule, driven by `now` from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Heartbeat {
    interval: Duration,
    next: Instant,
}

impl Heartbeat {
    /// The first beat is due one `interval` after `now`. An interval of zero counts as 1 ms.
    #[must_use]
    pub fn new(now: Instant, interval: Duration) -> Self {
        let interval = interval.max(MIN_INTERVAL);
        Heartbeat {
            interval,
            next: now + interval,
        }
    }

    /// The interval between beats.
    #[must_use]
    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next beat is due; arm the timer for it.
    #[must_use]
    pub const fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// The timer fired. `true` means "send one heartbeat now". Early calls return `false`; a late
    /// call returns `true` once and moves to the first grid point after `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        let interval = self.interval.as_millis();
        let missed = (now - self.next).as_millis() / interval;
        let steps = missed.saturating_add(1);
        self.next = self.next + Duration::from_millis(interval.saturating_mul(steps));
        true
    }
}
