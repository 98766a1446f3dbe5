//! The client's connection policy: reconnect with backoff, connect timeout and heartbeat watchdog.
//!
//! A sans-IO state machine in the quinn-proto style. It performs no I/O and reads no clock: the
//! shell feeds it what it observed (`handle_*(now, ..)`), performs the [`Action`]s it asks for
//! ([`Reconnect::poll_action`] until `None`) and arms one timer for
//! [`Reconnect::poll_timeout`]. Early or spurious [`Reconnect::handle_timeout`] calls are harmless.
//!
//! ```text
//!                 start()                          handle_connected()
//!   Idle ─────────────────────▶ Connecting ─────────────────────────▶ Connected
//!     ▲                      {attempt, deadline}                 {attempt, since, last_rx}
//!     │                         │        ▲                               │
//!     │   connect timeout (Close)│        │ backoff expired               │ watchdog: no bytes for
//!     │   handle_disconnected()  │        │ (Connect)                     │ idle_timeout (Close), or
//!     │   (retryable, Close)     ▼        │                               │ handle_disconnected()
//!     │                        Waiting {attempt, until, reason} ◀─────────┘ (retryable, Close)
//!     │
//!   any state ── stop(), or handle_disconnected() with a fatal reason (Close if connected) ──▶ Disabled(reason)
//!   Disabled ── start() ──▶ Connecting (attempt 0)
//! ```
//!
//! # Backoff
//! After the `n`-th consecutive failure (counting from 0) the nominal delay is
//! `base × (backoff_factor_pct / 100)ⁿ`, computed with integer maths (no FPU) and capped at
//! `max_backoff`. `base` is [`Policy::initial_backoff`] until the server sends `retry:`
//! ([`Reconnect::handle_retry_hint`]); the hint is clamped to at least [`MIN_RETRY_HINT`] so that a
//! hostile `retry: 0` cannot turn into a reconnect storm. A hint that changes the base also
//! restarts the growth: `n` counts the failures since then, so `retry: 300` after three failures
//! waits 300 ms, not 300 ms × 1.5³. The same hint again (our server opens every stream with
//! one) changes nothing, so an accept-then-close server still sees the delays grow.
//!
//! **Jitter shape.** Jitter only adds: the delay is drawn uniformly from `[d, d + d·j]`, where
//! `d` is the capped nominal delay and `j = jitter_pct/100`, so a client never waits less than
//! the reconnection time it was given. Where that window would pass `max_backoff` it is moved
//! down to end at the cap, but never below `base` (itself capped): `[max(cap − d·j, base), cap]`.
//! Clients that fail together spread over a `d·j` wide window. The generator is a seeded
//! PCG32; the seed is the caller's.
//!
//! **Giving up.** With [`Policy::max_retries`] `= Some(n)`, the failure that would start retry
//! `n + 1` disables the client instead ([`Reason::GaveUp`]). Failures are counted as for the
//! backoff (consecutive, reset by a healthy connection).
//!
//! **Healthy, not merely open.** The failure count resets only when bytes arrive on a connection
//! that has been up for at least [`Policy::healthy_after`]. A server that accepts and closes at
//! once (or accepts and sends nothing) keeps the count growing, so delays keep growing too.
//!
//! # Which endings retry
//! Per PROTOCOL.md §7, only `200` with `text/event-stream` opens the stream. `204` (and every
//! other 2xx: `205`, `210`, `299`, …, none of which carries a stream) and 4xx other than 408 and
//! 429 disable the client (the WHATWG `EventSource` "fails the connection" for them: no
//! reconnect). A `200` that is not `text/event-stream` ([`Disconnect::NotEventStream`]) also
//! disables it: WHATWG fails the connection for a wrong content type, and retrying cannot fix a
//! URL that points at something other than an event stream. A `session_ended` event disables it.
//! Network errors, end of stream, 5xx, 408 (request timeout), 429 (too many requests) and the
//! remaining statuses (1xx, a 3xx left after the redirect limit) retry with backoff.
//!
//! # Actions
//! At most one connection exists at a time: between two [`Action::Connect`]s there is always an
//! [`Action::Close`]. `Close` is emitted whenever the machine leaves `Connecting` or `Connected`
//! (also after [`Reconnect::handle_disconnected`], where the shell may already have dropped the
//! connection), so a shell can treat `Close` as "drop whatever connection you hold". A `Connect`
//! that was queued but not yet polled is withdrawn instead of being followed by a `Close`.

use core::fmt;

use crate::rand::Rand;
use crate::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// The smallest base delay a server's `retry:` hint can set. WHATWG lets a server ask for any
/// reconnection time; `retry: 0` from an accept-then-close server would otherwise reconnect in a
/// tight loop.
pub const MIN_RETRY_HINT: Duration = Duration::from_millis(250);

/// A bound on the number of growth steps computed per backoff, so a factor barely above 100 %
/// costs a bounded loop. With the default factor the cap is reached after a dozen steps.
const MAX_GROWTH_STEPS: u32 = 1024;

/// Tuning. `Default` matches the legacy web client (1 s × 1.5ⁿ capped at 60 s) and adds jitter,
/// the connect timeout and the healthy-connection rule it lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Policy {
    /// The base delay before the first retry (1 s). A server `retry:` replaces it.
    pub initial_backoff: Duration,
    /// Growth per consecutive failure in percent (150 = ×1.5). Values below 100 count as 100.
    pub backoff_factor_pct: u16,
    /// The longest delay between attempts, jitter included (60 s).
    pub max_backoff: Duration,
    /// Jitter in percent (20): the delay is drawn from `[d·(1 − j), d]`. Values above 100 count as 100.
    pub jitter_pct: u8,
    /// How long a connection attempt may take before it is abandoned (10 s).
    pub connect_timeout: Duration,
    /// No bytes at all for this long on an open stream means it is dead (45 s = 3 heartbeats).
    pub idle_timeout: Duration,
    /// Reset the failure count only once a connection has stayed up and live this long (10 s).
    pub healthy_after: Duration,
    /// Give up (disable, [`Reason::GaveUp`]) instead of starting retry `n + 1` after `n`
    /// consecutive failures; `None` (the default) retries forever.
    pub max_retries: Option<u32>,
}

impl Policy {
    /// The default policy as a constant, for `static` configuration on devices.
    pub const DEFAULT: Policy = Policy {
        initial_backoff: Duration::from_secs(1),
        backoff_factor_pct: 150,
        max_backoff: Duration::from_secs(60),
        jitter_pct: 20,
        connect_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(45),
        healthy_after: Duration::from_secs(10),
        max_retries: None,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// Why a connection ended (or could not open), as the shell observed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Disconnect {
    /// Connecting failed or the connection broke (reset, DNS, TLS, read error).
    Network,
    /// The server ended the response body cleanly.
    EndOfStream,
    /// The client closed the stream because messages were missing (an index arrived past the
    /// next one expected; see [`crate::follow`]). Retried with backoff like
    /// [`Disconnect::EndOfStream`], and shown as [`Reason::ConnectionLost`].
    Gap,
    /// The response status was not `200`. Other 2xx and 4xx other than 408/429 disable the client.
    HttpStatus(u16),
    /// A `200` whose `Content-Type` is not `text/event-stream`. Disables the client.
    NotEventStream,
    /// The server sent `session_ended`. Disables the client.
    SessionEnded,
}

/// The four statuses a UI shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StatusKind {
    /// The stream is open.
    Connected,
    /// A connection attempt is under way.
    Connecting,
    /// Not connected; a retry is scheduled (or the client was never started).
    Disconnected,
    /// Not connected and not retrying, until [`Reconnect::start`] is called again.
    Disabled,
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusKind::Connected => "connected",
            StatusKind::Connecting => "connecting",
            StatusKind::Disconnected => "disconnected",
            StatusKind::Disabled => "disabled",
        })
    }
}

/// The reason text that goes with a [`StatusKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Reason {
    /// "Connecting..."
    Connecting,
    /// "Connected"
    Connected,
    /// "Connection lost": a network error on the open stream, or missing messages
    /// ([`Disconnect::Gap`]).
    ConnectionLost,
    /// "Server closed the stream": the response body ended ([`Disconnect::EndOfStream`]).
    ServerClosed,
    /// "Server unreachable": a network error before any response (refused, DNS, TLS, reset
    /// while connecting).
    Unreachable,
    /// "Connection timed out (no heartbeat)": the watchdog fired.
    NoHeartbeat,
    /// "Connection timed out": the connect timeout fired.
    ConnectTimeout,
    /// "HTTP 404": the status that disabled the client, or (500, 503, 408, 429, …) the one
    /// it is backing off from.
    HttpStatus(u16),
    /// "Not an event stream": a `200` with the wrong content type.
    NotEventStream,
    /// "Session ended": the server sent `session_ended`.
    SessionEnded,
    /// "Stopped": [`Reconnect::stop`] was called, or [`Reconnect::start`] not yet.
    Stopped,
    /// "Gave up after N retries": [`Policy::max_retries`] was reached.
    GaveUp(u32),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Connecting => f.write_str("Connecting..."),
            Reason::Connected => f.write_str("Connected"),
            Reason::ConnectionLost => f.write_str("Connection lost"),
            Reason::ServerClosed => f.write_str("Server closed the stream"),
            Reason::Unreachable => f.write_str("Server unreachable"),
            Reason::NoHeartbeat => f.write_str("Connection timed out (no heartbeat)"),
            Reason::ConnectTimeout => f.write_str("Connection timed out"),
            Reason::HttpStatus(code) => write!(f, "HTTP {code}"),
            Reason::NotEventStream => f.write_str("Not an event stream"),
            Reason::SessionEnded => f.write_str("Session ended"),
            Reason::Stopped => f.write_str("Stopped"),
            Reason::GaveUp(1) => f.write_str("Gave up after 1 retry"),
            Reason::GaveUp(n) => write!(f, "Gave up after {n} retries"),
        }
    }
}

/// What a UI shows: the kind and its reason text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Status {
    /// Connected, connecting, disconnected or disabled.
    pub kind: StatusKind,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Status {
    /// `connected: Connected`, `disconnected: Connection lost`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

/// What the shell must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Action {
    /// Open a connection (the follow session knows the resume point).
    Connect,
    /// Drop the current connection if one is still held (idempotent for the shell).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Never started.
    Idle,
    /// An attempt is under way; `attempt` consecutive failures precede it.
    Connecting { attempt: u32, deadline: Instant },
    /// The stream is open since `since`; the last byte arrived at `last_rx`.
    Connected {
        attempt: u32,
        since: Instant,
        last_rx: Instant,
    },
    /// Backing off until `until` after `attempt` consecutive failures.
    Waiting {
        attempt: u32,
        until: Instant,
        reason: Reason,
    },
    /// Not retrying until `start()`.
    Disabled(Reason),
}

/// Actions not yet handed to the shell. Always drained in this order: `Close`, then `Connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Pending {
    close: bool,
    connect: bool,
}

/// The reconnect and watchdog state machine. See the module docs for the diagram and rules.
#[derive(Debug, Clone)]
pub struct Reconnect {
    state: State,
    policy: Policy,
    /// The backoff base: `initial_backoff`, or the server's `retry:` hint.
    base: Duration,
    /// The failure count when the base last changed: growth counts failures since then.
    growth_from: u32,
    rng: Rand,
    pending: Pending,
}

impl Reconnect {
    /// A stopped client. `seed` drives the jitter; give each device or process its own.
    #[must_use]
    pub const fn new(policy: Policy, seed: u64) -> Self {
        Reconnect {
            state: State::Idle,
            base: policy.initial_backoff,
            growth_from: 0,
            policy,
            rng: Rand::new(seed),
            pending: Pending {
                close: false,
                connect: false,
            },
        }
    }

    /// The policy in force.
    #[must_use]
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Starts connecting now. From `Idle` or `Disabled` the failure count starts at 0; while
    /// `Waiting` it skips the rest of the backoff ("retry now") and keeps the count; while
    /// connecting or connected it does nothing.
    pub fn start(&mut self, now: Instant) {
        match self.state {
            State::Idle | State::Disabled(_) => {
                self.growth_from = 0;
                self.connect(now, 0);
            }
            State::Waiting { attempt, .. } => self.connect(now, attempt),
            State::Connecting { .. } | State::Connected { .. } => {}
        }
    }

    /// Stops: closes any connection and does not retry until [`Reconnect::start`].
    pub fn stop(&mut self) {
        self.disable(Reason::Stopped);
    }

    /// The response was `200` with `text/event-stream`: the stream is open. Ignored unless a
    /// connection attempt was handed out with [`Action::Connect`].
    pub fn handle_connected(&mut self, now: Instant) {
        if let State::Connecting { attempt, .. } = self.state
            && !self.pending.connect
        {
            self.state = State::Connected {
                attempt,
                since: now,
                last_rx: now,
            };
        }
    }

    /// Some bytes arrived on the open stream (any bytes: comments and heartbeats count). Feeds
    /// the watchdog, and resets the failure count once the connection has proved healthy.
    pub fn handle_bytes(&mut self, now: Instant) {
        if let State::Connected {
            attempt,
            since,
            last_rx,
        } = &mut self.state
        {
            *last_rx = (*last_rx).max(now);
            if now - *since >= self.policy.healthy_after {
                *attempt = 0;
                self.growth_from = 0;
            }
        }
    }

    /// The server's `retry:` field: it becomes the backoff base (at least [`MIN_RETRY_HINT`]).
    /// A base that changes restarts the growth from the failures counted so far (see the
    /// module docs); the count itself is kept.
    pub fn handle_retry_hint(&mut self, retry: Duration) {
        let base = retry.max(MIN_RETRY_HINT);
        if base != self.base {
            self.base = base;
            self.growth_from = self.attempt();
        }
    }

    /// The connection ended or could not open. Fatal reasons (`204`, 4xx other than 408/429, not
    /// an event stream, session ended) disable the client; the rest back off and retry. Ignored
    /// unless a connection was handed out (a stale report about a closed connection is harmless).
    pub fn handle_disconnected(&mut self, now: Instant, why: Disconnect) {
        let (attempt, open) = match self.state {
            State::Connecting { attempt, .. } if !self.pending.connect => (attempt, false),
            State::Connected { attempt, .. } => (attempt, true),
            _ => return,
        };
        match classify(why) {
            Some(fatal) => self.disable(fatal),
            // Say why: a retryable error status (500, 503, 408, 429 …) shows as itself, a
            // body that ended as the server's doing, a network error before the stream opened
            // as an unreachable server.
            None => {
                let reason = match why {
                    Disconnect::HttpStatus(code) if code >= 400 => Reason::HttpStatus(code),
                    Disconnect::EndOfStream => Reason::ServerClosed,
                    Disconnect::Network if !open => Reason::Unreachable,
                    _ => Reason::ConnectionLost,
                };
                self.back_off(now, attempt, reason);
            }
        }
    }

    /// The timer from [`Reconnect::poll_timeout`] fired. Calls before the deadline do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Connecting { attempt, deadline } if now >= deadline => {
                self.back_off(now, attempt, Reason::ConnectTimeout);
            }
            State::Connected {
                attempt, last_rx, ..
            } if now >= last_rx + self.policy.idle_timeout => {
                self.back_off(now, attempt, Reason::NoHeartbeat);
            }
            State::Waiting { attempt, until, .. } if now >= until => self.connect(now, attempt),
            _ => {}
        }
    }

    /// The next thing the shell must do; call until `None` after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.pending.close {
            self.pending.close = false;
            Some(Action::Close)
        } else if self.pending.connect {
            self.pending.connect = false;
            Some(Action::Connect)
        } else {
            None
        }
    }

    /// When to call [`Reconnect::handle_timeout`] next: the connect deadline, the watchdog, or
    /// the end of the backoff. `None` when idle or disabled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Idle | State::Disabled(_) => None,
            State::Connecting { deadline, .. } => Some(deadline),
            State::Connected { last_rx, .. } => Some(last_rx + self.policy.idle_timeout),
            State::Waiting { until, .. } => Some(until),
        }
    }

    /// What to show the user.
    #[must_use]
    pub const fn status(&self) -> Status {
        let (kind, reason) = match self.state {
            State::Idle => (StatusKind::Disconnected, Reason::Stopped),
            State::Connecting { .. } => (StatusKind::Connecting, Reason::Connecting),
            State::Connected { .. } => (StatusKind::Connected, Reason::Connected),
            State::Waiting { reason, .. } => (StatusKind::Disconnected, reason),
            State::Disabled(reason) => (StatusKind::Disabled, reason),
        };
        Status { kind, reason }
    }

    /// When the next attempt starts, while backing off (for a "reconnecting in N s" countdown).
    #[must_use]
    pub const fn retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Consecutive failed attempts so far (0 when idle, disabled or after a healthy connection).
    #[must_use]
    pub const fn attempt(&self) -> u32 {
        match self.state {
            State::Idle | State::Disabled(_) => 0,
            State::Connecting { attempt, .. }
            | State::Connected { attempt, .. }
            | State::Waiting { attempt, .. } => attempt,
        }
    }

    /// The nominal (jitter-free, capped) delay after `failures` consecutive failures.
    #[must_use]
    pub fn nominal_backoff(&self, failures: u32) -> Duration {
        let cap = self.policy.max_backoff.as_millis();
        let pct = u64::from(self.policy.backoff_factor_pct.max(100));
        let mut d = self.base.as_millis().min(cap);
        for _ in 0..failures.min(MAX_GROWTH_STEPS) {
            if d >= cap || pct == 100 {
                break;
            }
            let grown = d.saturating_mul(pct) / 100;
            // Integer floor can stall on tiny delays; any factor above 100 % must still grow.
            d = grown.max(d + 1).min(cap);
        }
        Duration::from_millis(d)
    }

    /// Leaves `Connecting`/`Connected` (if there) and queues the `Close` that goes with it.
    fn leave_connection(&mut self) {
        if matches!(
            self.state,
            State::Connecting { .. } | State::Connected { .. }
        ) {
            if self.pending.connect {
                // Never handed out: withdraw it instead of closing a connection that does not exist.
                self.pending.connect = false;
            } else {
                self.pending.close = true;
            }
        }
    }

    fn connect(&mut self, now: Instant, attempt: u32) {
        self.leave_connection();
        self.state = State::Connecting {
            attempt,
            deadline: now + self.policy.connect_timeout,
        };
        self.pending.connect = true;
    }

    fn back_off(&mut self, now: Instant, attempt: u32, reason: Reason) {
        if let Some(max) = self.policy.max_retries
            && attempt >= max
        {
            self.disable(Reason::GaveUp(max));
            return;
        }
        self.leave_connection();
        let d = self
            .nominal_backoff(attempt.saturating_sub(self.growth_from))
            .as_millis();
        let cap = self.policy.max_backoff.as_millis();
        let jitter_pct = u64::from(self.policy.jitter_pct.min(100));
        let span = d / 100 * jitter_pct + d % 100 * jitter_pct / 100;
        // Additive: `[d, d + span]`, moved down to end at the cap but never below the base.
        let hi = d.saturating_add(span).min(cap);
        let lo = hi
            .saturating_sub(span)
            .max(self.base.as_millis().min(cap))
            .min(hi);
        let delay = Duration::from_millis(lo + self.rng.up_to(hi - lo));
        self.state = State::Waiting {
            attempt: attempt.saturating_add(1),
            until: now + delay,
            reason,
        };
    }

    fn disable(&mut self, reason: Reason) {
        self.leave_connection();
        self.state = State::Disabled(reason);
    }
}

/// `Some(reason)` if this ending must stop the client, `None` if it retries.
const fn classify(why: Disconnect) -> Option<Reason> {
    match why {
        Disconnect::Network | Disconnect::EndOfStream | Disconnect::Gap => None,
        // Only `200` carries a stream; no other 2xx will, however often it is asked.
        Disconnect::HttpStatus(code @ (201..=299 | 400..=499)) if code != 408 && code != 429 => {
            Some(Reason::HttpStatus(code))
        }
        Disconnect::HttpStatus(_) => None,
        Disconnect::NotEventStream => Some(Reason::NotEventStream),
        Disconnect::SessionEnded => Some(Reason::SessionEnded),
    }
}
