//! Blink patterns for a single status LED (the Pico W's), chosen from what is shown. Boards
//! with one LED play [`Pattern::timings`] in a loop; the choice is tested here, on the host.

/// What one LED can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pattern {
    /// Not connected and not trying right now (backoff, no network): a short blip every 2 s.
    Offline,
    /// Opening a connection: fast 4 Hz blink.
    Connecting,
    /// Connected, agent idle: steady on.
    Idle,
    /// Connected, agent calling a model or running a tool: 1 Hz blink.
    Working,
    /// Connected, agent waiting for its user: double blink every 2 s.
    WaitingForUser,
    /// Agent reported an error: triple blink every 2 s.
    Error,
    /// Session ended (the app stopped following): off.
    Ended,
}

impl Pattern {
    /// Alternating on/off durations in milliseconds, starting with "on", played in a loop.
    /// A single entry means steady (`[1]` on, `[0]` off).
    pub const fn timings(self) -> &'static [u16] {
        match self {
            Self::Offline => &[100, 1900],
            Self::Connecting => &[125, 125],
            Self::Idle => &[1],
            Self::Working => &[500, 500],
            Self::WaitingForUser => &[100, 150, 100, 1650],
            Self::Error => &[80, 120, 80, 120, 80, 1520],
            Self::Ended => &[0],
        }
    }
}
