//! The client's only clock read: tokio's monotonic clock as `sse_core::Instant` milliseconds.
//!
//! Core time is whole milliseconds since an arbitrary origin; here the origin is the moment the
//! client was created. A core deadline converts back exactly, and `now()` truncates, so waking at
//! a converted deadline always gives a `now` at or past it (no early-wakeup spin).

use std::time::Duration;

/// Converts between tokio's clock and core time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose core time 0 is now.
    pub(crate) fn new() -> Self {
        Clock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// Core time now. This is the one place the client reads the clock.
    pub(crate) fn now(&self) -> sse_core::Instant {
        let ms = self.origin.elapsed().as_millis();
        sse_core::Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The tokio instant of a core instant (a deadline past any real one saturates to a year).
    pub(crate) fn to_tokio(self, at: sse_core::Instant) -> tokio::time::Instant {
        const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
        let after = Duration::from_millis(at.as_millis()).min(FAR);
        self.origin + after
    }
}
