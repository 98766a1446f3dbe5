//! A fake clock and a deterministic driver for sans-IO machines (quinn-proto's `Pair` style).
//!
//! Tests never sleep: the driver jumps the clock straight to the machine's `poll_timeout()`,
//! calls `handle_timeout`, and records every action with the time it was emitted, so a test reads
//! as a timeline.

use sse_core::reconnect::{Action, Reconnect};
use sse_core::{Duration, Instant};

/// Time as the test decides it. Never goes backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FakeClock {
    now: Instant,
}

impl FakeClock {
    /// A clock at the origin.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves forward by `d` and returns the new time.
    pub fn advance(&mut self, d: Duration) -> Instant {
        self.now = self.now + d;
        self.now
    }

    /// Moves forward to `t` (or stays, if `t` is in the past) and returns the new time.
    pub fn jump_to(&mut self, t: Instant) -> Instant {
        self.now = self.now.max(t);
        self.now
    }
}

/// The timer-and-actions half of a sans-IO machine.
pub trait Machine {
    /// What the machine asks the shell to do.
    type Action: Copy + core::fmt::Debug;
    /// The next action, if any.
    fn poll_action(&mut self) -> Option<Self::Action>;
    /// When to call [`Machine::handle_timeout`] next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The timer fired.
    fn handle_timeout(&mut self, now: Instant);
}

impl Machine for Reconnect {
    type Action = Action;
    fn poll_action(&mut self) -> Option<Action> {
        Reconnect::poll_action(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Reconnect::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Reconnect::handle_timeout(self, now);
    }
}

/// More actions than this from one drain means the machine is looping.
const MAX_ACTIONS_PER_DRAIN: usize = 64;

/// A machine, a fake clock and the trace of everything the machine asked for.
#[derive(Debug)]
pub struct Sim<M: Machine> {
    /// The machine under test; feed it inputs directly with `sim.m.handle_*(sim.now(), ..)`.
    pub m: M,
    /// The fake clock.
    pub clock: FakeClock,
    /// Every action drained so far, with the time it was drained.
    pub trace: Vec<(Instant, M::Action)>,
}

impl<M: Machine> Sim<M> {
    /// A simulation at time zero.
    pub fn new(m: M) -> Self {
        Sim {
            m,
            clock: FakeClock::new(),
            trace: Vec::new(),
        }
    }

    /// The current fake time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Takes every queued action, records it and returns it.
    ///
    /// # Panics
    /// If the machine yields more than 64 actions at once (it is looping).
    pub fn drain(&mut self) -> Vec<M::Action> {
        let mut out = Vec::new();
        while let Some(a) = self.m.poll_action() {
            out.push(a);
            self.trace.push((self.clock.now(), a));
            assert!(
                out.len() <= MAX_ACTIONS_PER_DRAIN,
                "machine keeps emitting: {out:?}"
            );
        }
        out
    }

    /// Jumps to the machine's deadline, fires it and drains. `None` if no timer is armed.
    pub fn fire_timer(&mut self) -> Option<(Instant, Vec<M::Action>)> {
        let t = self.m.poll_timeout()?;
        let now = self.clock.jump_to(t);
        self.m.handle_timeout(now);
        Some((now, self.drain()))
    }

    /// Moves the clock by `d`, firing every timer that falls inside (in order) and draining.
    ///
    /// # Panics
    /// If more than 10 000 timers fire (the machine is spinning).
    pub fn advance(&mut self, d: Duration) -> Vec<M::Action> {
        let end = self.clock.now() + d;
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.m.poll_timeout() {
                Some(t) if t <= end => {
                    let now = self.clock.jump_to(t);
                    self.m.handle_timeout(now);
                    out.extend(self.drain());
                }
                _ => {
                    self.clock.jump_to(end);
                    return out;
                }
            }
        }
        panic!("more than 10 000 timers within {d}");
    }
}

impl<const LINE: usize, const DATA: usize> Machine for sse_core::agent::follow::Follow<LINE, DATA> {
    type Action = sse_core::agent::follow::Action;
    fn poll_action(&mut self) -> Option<Self::Action> {
        sse_core::agent::follow::Follow::poll_action(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        sse_core::agent::follow::Follow::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        sse_core::agent::follow::Follow::handle_timeout(self, now);
    }
}
