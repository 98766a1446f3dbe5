//! The event sequence index.
//!
//! Every `message` event carries its log index (`idx`) as its SSE `id:`. This module decides
//! resumes on the server side and classifies arrivals on the client side.

use core::fmt;

/// A message index in a log: dense, strictly increasing from 0 within one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Seq(pub u64);

impl Seq {
    /// The first index of every log.
    pub const ZERO: Seq = Seq(0);

    /// The index after this one, saturating.
    #[must_use]
    pub const fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
