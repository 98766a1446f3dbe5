//! The client session every shell drives: bytes and `now` in, app-level outputs out.
//!
//! [`Follow`] owns the three client-side pieces, so that no shell (the tokio `follow` client, the
//! embassy firmware) contains protocol logic:
//! - a [`Parser`] for the `text/event-stream` bytes,
//! - a [`Tracker`] for message indices (resume point, duplicates, gaps, epochs),
//! - a [`Reconnect`] for backoff, the connect timeout and the heartbeat watchdog.
//!
//! ```text
//!  shell                              Follow                               app
//!  ─────                              ──────                               ───
//!  poll_action() ◀── Connect{from} / Close          (Last-Event-ID: last_event_id())
//!  handle_response(now, 200, true) ──▶ opens
//!  handle_bytes(now, &mut rest) ─────▶ parse → track → ──▶ Message / State / Heartbeat / …
//!  handle_disconnected(now, why) ────▶ backoff or disable
//!  poll_timeout() / handle_timeout(now)  watchdog, connect timeout, backoff
//!  poll_output() ─────────────────────────────────────────▶ StatusChanged / StartOver
//! ```
//!
//! # Driving it
//! ```text
//! loop {
//!     while let Some(a) = f.poll_action() { Connect{from} => open(from, f.resume_epoch(), f.last_event_id()), Close => drop }
//!     while let Some(o) = f.poll_output() { app(o) }
//!     select {
//!         timer(f.poll_timeout()) => f.handle_timeout(now),
//!         response headers        => f.handle_response(now, status, is_event_stream),
//!         read Ok(n)              => { let mut rest = &buf[..n];
//!                                      while !rest.is_empty() { if let Some(o) = f.handle_bytes(now, &mut rest) { app(o) } } }
//!         read EOF / error        => f.handle_disconnected(now, Disconnect::EndOfStream / Network),
//!     }
//! }
//! ```
//! [`Follow::handle_bytes`] performs one parser step per call and lends its output from the
//! parser's buffers (like [`Parser::push`]); `None` means the step produced nothing for the app
//! (a `retry:`, a duplicate). Each call consumes at least one byte
//! or returns a pending output, so the loop above terminates.
//!
//! # Events
//! - `message` whose `id:` is an index (`<epoch>-<idx>` or a bare `<idx>`): delivered once, in order ([`Output::Message`]).
//!   Duplicates (after a reconnect) are dropped here. A gap is never delivered: the connection is
//!   closed ([`Disconnect::Gap`], shown as "Connection lost") and the client reconnects, resuming at the first missing index, with backoff (a
//!   server that keeps skipping cannot cause a storm). A `message` whose id is not an index is
//!   passed through as [`Output::Other`].
//! - `state`: delivered as [`Output::State`] (which says when it was cut at the `DATA` bound); its top-level `"epoch"` is fed to the tracker. A
//!   new epoch (the server's log was replaced) restarts the tracker at 0 and is followed by
//!   [`Output::StartOver`] (`reset: None`): drop your copy of the messages; they are replayed from 0. (The
//!   `State` comes first because its data is lent from the parser and cannot be held back.)
//! - `reset`: the resume point is not in the server's log. The tracker accepts whatever the
//!   server replays next; the app gets [`Output::StartOver`] with the event's data in `reset`.
//! - `heartbeat`: [`Output::Heartbeat`] with its data (our server sends the Unix time). Any bytes
//!   at all feed the watchdog.
//! - `session_ended`: [`Output::SessionEnded`]; the client is disabled (no reconnect).
//! - anything else: [`Output::Other`].
//! - comments (`:` lines, servers' keep-alives): [`Output::Comment`]; they feed the watchdog.
//! - an event whose `event:` or `id:` value exceeds the parser's line bound: dropped, and
//!   reported as [`Output::Dropped`] at its blank line. Its `id:` lines that fit still set the
//!   resume point (see [`crate::parse`]); an over-long `id:` leaves the previous one.
//! - data over the parser's data bound is cut at a character boundary and delivered with
//!   `truncated: true` ([`Output::Message`], [`Output::Other`]); a message still counts.
//!
//! # Resume
//! [`Action::Connect`] carries `from` = [`Tracker::resume_from`] (the last accepted index + 1);
//! send it with [`Follow::resume_epoch`] as `epoch=` when there is one, so that a server whose
//! log is another history answers `reset` instead of replaying its own `from`.
//! [`Follow::last_event_id`] is the parser's last event ID, as WHATWG `EventSource` sends it,
//! with one exception: once the stream is known to number its messages (see *Indexed streams*),
//! an index-shaped ID is sent only when it agrees with `from` (it names `from − 1`). After a gap, a duplicate, a
//! `reset` or a new epoch the parser's ID can name a message the tracker did not accept; sending
//! it would make the server (which starts at the larger of the two) skip the missing range. IDs
//! that are not indices (`id: abc`), and IDs from servers that do not index messages, are always
//! sent back.
//!
//! # Indexed streams
//! Sequence accounting (dedup, gaps, resume `from`) is this protocol's, not SSE's: an arbitrary
//! server may use `id: 1732458000123` or number its events from 1. So it is engaged only once
//! the stream is known to be indexed: a `state` event carrying an `epoch` was seen (our server
//! sends one first on every connection), or the session was created with
//! [`Follow::with_resume`]. Before that, a `message` is passed through as [`Output::Other`]
//! and its ID is sent back as `Last-Event-ID` like any other.

use crate::agent::state::top_level_str;
use crate::parse::{Event, ParseError, Parser, SeedError, Step};
use crate::reconnect::{self, Disconnect, Policy, Reconnect, Status, StatusKind};
use crate::seq::{Arrival, EpochChange, EventRef, MAX_SERVER_ID_LEN, Seq, Tracker, id_index};
use crate::time::Instant;

#[cfg(test)]
mod tests;

/// What the shell must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Action {
    /// Open `GET /stream?from={from}`, with `Last-Event-ID: {id}` if
    /// [`Follow::last_event_id`] is `Some(id)`. Then report the response with
    /// [`Follow::handle_response`].
    Connect {
        /// The first message index wanted.
        from: Seq,
    },
    /// Drop the current connection, if one is still held.
    Close,
}

/// What the app sees. Borrowed data lives in the parser (or the input) until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<'a> {
    /// The next message, in order, exactly once.
    Message {
        /// Its index (the SSE `id:`).
        idx: Seq,
        /// Its data (AgentMessage JSON).
        data: &'a str,
        /// `data` was cut to the parser's `DATA` bytes; the index still counts.
        truncated: bool,
    },
    /// The server's current State JSON.
    State {
        /// The JSON.
        data: &'a str,
        /// The State was larger than the parser's `DATA` bound and `data` is its cut start (not
        /// valid JSON): keep the previous State, and size `DATA` for the server's States
        /// (PROTOCOL.md §4).
        truncated: bool,
    },
    /// A server heartbeat, with its data (our server: Unix time in seconds).
    Heartbeat(&'a str),
    /// Drop your copy of the messages: they are replayed from the server's first index (new
    /// epoch or `reset`).
    StartOver {
        /// The `reset` event's data (`{"epoch":..,"message_count":..}`) when the server sent
        /// one; `None` when a `state` with a new epoch revealed the change.
        reset: Option<&'a str>,
    },
    /// The session ended (data: `{"message":..}`); the client stops reconnecting.
    SessionEnded(&'a str),
    /// Any other event, or a `message` whose id is not an index.
    Other {
        /// The event type (`"message"` if the stream named none).
        event_type: &'a str,
        /// Its data.
        data: &'a str,
        /// The last event ID at dispatch.
        id: &'a str,
        /// `data` was cut to the parser's data bound.
        truncated: bool,
    },
    /// A comment line's text (after the `:`), cut to the line bound.
    Comment(&'a str),
    /// An event was dropped: one of its `event:`/`id:` values exceeded the line bound. The
    /// resume point is what the event's other `id:` lines (or earlier events) set.
    Dropped(ParseError),
    /// The connection status changed (only the latest is reported if several happened between
    /// two polls).
    StatusChanged(Status),
}

/// The client session: parser + tracker + reconnect policy. `LINE` and `DATA` bound the parser
/// (see [`Parser`]); the rest is a few dozen bytes.
///
/// `LINE` must be at least [`MAX_SERVER_ID_LEN`] (53): the longest `<epoch>-<idx>` id our
/// server sends, which every message carries. This is checked when the constructor is
/// instantiated, so a session that would drop every message does not build:
///
/// ```compile_fail
/// use sse_core::agent::follow::Follow;
/// use sse_core::reconnect::Policy;
/// // 32 bytes cannot hold `0123456789abcdef0123456789abcdef-7`.
/// let f = Follow::<32, 1024>::new(Policy::DEFAULT, 1);
/// ```
///
/// ```
/// use sse_core::agent::follow::Follow;
/// use sse_core::reconnect::Policy;
/// let f = Follow::<64, 1024>::new(Policy::DEFAULT, 1);
/// # let _ = f;
/// ```
///
/// `DATA` has no lower bound the type can know: size it for the server's largest `state`
/// (PROTOCOL.md §4); a larger one arrives with `truncated: true`. [`Follow::set_limits`] can
/// still lower the line bound at run time; it is the caller's to keep it at least 53.
#[derive(Debug)]
pub struct Follow<const LINE: usize, const DATA: usize> {
    parser: Parser<LINE, DATA>,
    tracker: Tracker,
    reconnect: Reconnect,
    /// The last status handed out as [`Output::StatusChanged`].
    reported: Status,
    /// A [`Output::StartOver`] is owed (a `state` revealed a new epoch).
    start_over: bool,
    /// Events the parser dropped (over-long `event:`/`id:` values).
    dropped: u64,
    /// The stream numbers its messages: an epoch was seen or a resume index was given. Until
    /// then messages are not tracked (see *Indexed streams* in the module docs).
    indexed: bool,
}

impl<const LINE: usize, const DATA: usize> Follow<LINE, DATA> {
    /// A stopped session that will ask for the log from index 0.
    #[must_use]
    pub const fn new(policy: Policy, seed: u64) -> Self {
        Self::with_tracker(policy, seed, Tracker::new(), false)
    }

    /// A stopped session resuming at `next` (e.g. restored from storage).
    #[must_use]
    pub const fn with_resume(policy: Policy, seed: u64, next: Seq) -> Self {
        Self::with_tracker(policy, seed, Tracker::with_resume(next), true)
    }

    const fn with_tracker(policy: Policy, seed: u64, tracker: Tracker, indexed: bool) -> Self {
        const {
            assert!(
                LINE >= MAX_SERVER_ID_LEN,
                "Follow<LINE, DATA>: LINE must be at least seq::MAX_SERVER_ID_LEN (53), the longest `id:` the server sends"
            );
        }
        let reconnect = Reconnect::new(policy, seed);
        Follow {
            parser: Parser::new(),
            tracker,
            reported: reconnect.status(),
            reconnect,
            start_over: false,
            dropped: 0,
            indexed,
        }
    }

    /// Starts (or restarts after [`Follow::stop`] or a disabling ending) connecting now.
    pub fn start(&mut self, now: Instant) {
        self.reconnect.start(now);
    }

    /// Closes any connection and stops reconnecting.
    pub fn stop(&mut self) {
        self.reconnect.stop();
    }

    /// The response headers arrived. Only `200` with `Content-Type: text/event-stream` opens the
    /// stream; `204` and 4xx other than 408/429 (and a wrong content type) disable the client;
    /// other statuses retry with backoff. Ignored unless a connection attempt is under way.
    pub fn handle_response(&mut self, now: Instant, status: u16, is_event_stream: bool) {
        if self.reconnect.status().kind != StatusKind::Connecting {
            return;
        }
        match (status, is_event_stream) {
            (200, true) => self.reconnect.handle_connected(now),
            (200, false) => self
                .reconnect
                .handle_disconnected(now, Disconnect::NotEventStream),
            (code, _) => self
                .reconnect
                .handle_disconnected(now, Disconnect::HttpStatus(code)),
        }
    }

    /// Runs one parser step over the front of `input` (advancing it) and returns what the app
    /// should see, if anything. A pending [`Follow::poll_output`] item is returned first, without
    /// consuming input. Bytes that arrive when no stream is open (after a gap, the watchdog or
    /// `session_ended` closed it) are discarded.
    pub fn handle_bytes<'a, 'i: 'a>(
        &'a mut self,
        now: Instant,
        input: &mut &'i [u8],
    ) -> Option<Output<'a>> {
        if let Some(pending) = self.poll_output() {
            return Some(pending);
        }
        if self.reconnect.status().kind != StatusKind::Connected {
            *input = &[];
            return None;
        }
        if input.is_empty() {
            return None;
        }
        self.reconnect.handle_bytes(now);
        match self.parser.push(input) {
            Ok(Step::NeedMore) => None,
            Ok(Step::Comment(text)) => Some(Output::Comment(text)),
            Ok(Step::Retry(d)) => {
                self.reconnect.handle_retry_hint(d);
                None
            }
            Ok(Step::Event(ev)) => on_event(
                now,
                ev,
                &mut self.tracker,
                &mut self.reconnect,
                &mut self.start_over,
                &mut self.indexed,
            ),
            Err(e) => {
                self.dropped = self.dropped.saturating_add(1);
                Some(Output::Dropped(e))
            }
        }
    }

    /// The connection ended (EOF, read error) or could not be opened. Ignored if no connection
    /// is under way (a late report about a connection already closed).
    pub fn handle_disconnected(&mut self, now: Instant, why: Disconnect) {
        self.reconnect.handle_disconnected(now, why);
    }

    /// The timer from [`Follow::poll_timeout`] fired; early calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reconnect.handle_timeout(now);
    }

    /// The next connection action; call until `None` after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        match self.reconnect.poll_action()? {
            reconnect::Action::Connect => {
                // A new stream: expect a BOM again, discard any half-read event.
                self.parser.finish();
                Some(Action::Connect {
                    from: self.tracker.resume_from(),
                })
            }
            reconnect::Action::Close => {
                self.parser.finish();
                Some(Action::Close)
            }
        }
    }

    /// Outputs that do not come with bytes: [`Output::StartOver`] owed after a `state`, and
    /// [`Output::StatusChanged`]. Call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output<'static>> {
        if self.start_over {
            self.start_over = false;
            return Some(Output::StartOver { reset: None });
        }
        let status = self.reconnect.status();
        if status != self.reported {
            self.reported = status;
            return Some(Output::StatusChanged(status));
        }
        None
    }

    /// When to call [`Follow::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.reconnect.poll_timeout()
    }

    /// The connection status now (it may be ahead of the last [`Output::StatusChanged`]).
    #[must_use]
    pub fn status(&self) -> Status {
        self.reconnect.status()
    }

    /// When the next attempt starts, while backing off (for a countdown).
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        self.reconnect.retry_at()
    }

    /// Consecutive failed attempts.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.reconnect.attempt()
    }

    /// The `Last-Event-ID` to send with the next [`Action::Connect`]: the parser's last event
    /// ID, or `None` if there is none or it is an index that disagrees with `from` (see the
    /// module docs for why).
    #[must_use]
    pub fn last_event_id(&self) -> Option<&str> {
        let id = self.parser.last_event_id();
        if id.is_empty() {
            return None;
        }
        match id_index(id) {
            Ok(idx) if self.indexed => {
                (idx.next() == self.tracker.resume_from() && idx.0 != u64::MAX).then_some(id)
            }
            _ => Some(id),
        }
    }

    /// Seeds the `Last-Event-ID` sent with the first connection (as `EventSource` would after a
    /// reconnect), e.g. a resume point kept by the user. The stream's own `id:` lines replace it.
    ///
    /// # Errors
    /// The ID is refused (see [`Parser::set_last_event_id`]): longer than the line bound, or it
    /// contains NUL, CR or LF.
    pub fn set_last_event_id(&mut self, id: &str) -> Result<(), SeedError> {
        self.parser.set_last_event_id(id)
    }

    /// Lowers the parser's bounds (see [`Parser::set_limits`]): `line` bytes for an
    /// `event:`/`id:` value or a comment, `data` bytes for one event's data.
    #[cfg(feature = "std")]
    pub fn set_limits(&mut self, line: usize, data: usize) {
        self.parser.set_limits(line, data);
    }

    /// The parser's bounds in force: (line, data) bytes.
    #[must_use]
    pub fn limits(&self) -> (usize, usize) {
        self.parser.limits()
    }

    /// The epoch to send with the next [`Action::Connect`] (as `epoch=`), so that a server
    /// whose log is not the one this client's copy came from answers `reset`: the epoch part of
    /// the last `<epoch>-<idx>` id, when it is the epoch the session follows. `None` before any
    /// such id, or after the server moved to another epoch (then the session restarted at 0 and
    /// there is no copy to protect).
    #[must_use]
    pub fn resume_epoch(&self) -> Option<&str> {
        let epoch = EventRef::parse(self.parser.last_event_id()).ok()?.epoch?;
        self.tracker.follows_epoch(epoch).then_some(epoch)
    }

    /// The first message index not yet received.
    #[must_use]
    pub fn resume_from(&self) -> Seq {
        self.tracker.resume_from()
    }

    /// Messages delivered since the start or the last [`Output::StartOver`].
    #[must_use]
    pub fn n_received(&self) -> u64 {
        self.tracker.n_received()
    }

    /// Events the parser dropped because an `event:` or `id:` value exceeded the line bound.
    #[must_use]
    pub fn n_dropped(&self) -> u64 {
        self.dropped
    }
}

/// Classifies one dispatched event. A free function so `ev` (borrowing the parser) and the
/// other fields can be used together.
fn on_event<'a>(
    now: Instant,
    ev: Event<'a>,
    tracker: &mut Tracker,
    reconnect: &mut Reconnect,
    start_over: &mut bool,
    indexed: &mut bool,
) -> Option<Output<'a>> {
    match ev.event_type {
        "message" => {
            let Ok(idx) = id_index(ev.last_event_id) else {
                return Some(other(ev));
            };
            if !*indexed {
                return Some(other(ev));
            }
            match tracker.handle_index(idx) {
                Arrival::Next => Some(Output::Message {
                    idx,
                    data: ev.data,
                    truncated: ev.truncated,
                }),
                Arrival::Duplicate => None,
                Arrival::Gap { .. } => {
                    // Never deliver out of order: close and resume at the first missing index.
                    reconnect.handle_disconnected(now, Disconnect::Gap);
                    None
                }
            }
        }
        "state" => {
            if let Some(epoch) = top_level_str(ev.data, "epoch") {
                *indexed = true;
                if tracker.handle_epoch(epoch) == EpochChange::New {
                    *start_over = true;
                }
            }
            Some(Output::State {
                data: ev.data,
                truncated: ev.truncated,
            })
        }
        "reset" => {
            // `{"epoch":..,"message_count":..}`: adopt the epoch first, so that a new one does
            // not undo the reset (a new epoch restarts at 0; the replay starts at `first`).
            if let Some(epoch) = top_level_str(ev.data, "epoch") {
                let _ = tracker.handle_epoch(epoch);
            }
            *indexed = true;
            tracker.handle_reset();
            Some(Output::StartOver {
                reset: Some(ev.data),
            })
        }
        "heartbeat" => Some(Output::Heartbeat(ev.data)),
        "session_ended" => {
            reconnect.handle_disconnected(now, Disconnect::SessionEnded);
            Some(Output::SessionEnded(ev.data))
        }
        _ => Some(other(ev)),
    }
}

fn other(ev: Event<'_>) -> Output<'_> {
    Output::Other {
        event_type: ev.event_type,
        data: ev.data,
        id: ev.last_event_id,
        truncated: ev.truncated,
    }
}
