//! Following a stream in SSE mode (`PROTOCOL.md` §5.8): bytes and `now` in; the data to hand
//! out, the offset to resume from and "closed: stop" out. No I/O, no clock, no allocation.
//!
//! Two layers, like [`crate::agent::follow`]:
//! - [`Reader<DATA>`] is fed the *events* of `live=sse` responses (`data` and `control`) and
//!   keeps the resume point (the last `streamNextOffset`, the last `streamCursor`);
//! - [`Follow<LINE, DATA>`] adds the SSE [`Parser`] and the [`Reconnect`] machine (backoff,
//!   connect timeout, watchdog), so a shell only moves bytes and arms one timer.
//!
//! ```text
//!  shell                                  Follow                                app
//!  ─────                                  ──────                                ───
//!  poll_action() ◀── Connect / Close      GET URL?offset={offset()}&live=sse[&cursor={cursor()}]
//!  handle_response(now, status, is_event_stream, base64)
//!  handle_bytes(now, &mut rest) ──▶ parse → Reader ──▶ Data / UpToDate / Closed
//!  handle_disconnected(now, why) ──▶ resume at once, or back off, or stop
//!  poll_timeout() / handle_timeout(now)   watchdog, connect timeout, backoff
//!  poll_output() ──────────────────────────────────────▶ the same, and StatusChanged / Failed
//! ```
//!
//! # Where the resume point advances
//! The server sends one or more `data` events and then a `control` event whose
//! `streamNextOffset` is the offset *after* that data. Until the control event arrives the
//! data's offset is unknown, so the reader holds the data back (in a `DATA`-byte buffer, at
//! most [`MAX_BATCH_EVENTS`] events) and hands it out only when the control event confirms
//! it, together with the new resume point. A connection that ends between a `data` event and
//! its `control` event drops the held data; the next request asks for the old offset again,
//! and the server sends that data again. So every byte is handed out exactly once, in order,
//! whatever the connection does.
//!
//! # Reconnecting
//! [`Follow`] uses [`Reconnect`] unchanged, with one addition for this protocol: servers end
//! SSE responses on purpose (about every 60 s, so caches can collapse requests), and such an
//! end is not a failure. A response that ends cleanly after at least one `control` event
//! counts as a live connection (as if a byte had arrived, which resets the failure count once
//! the connection has been up for [`Policy::healthy_after`]); if the count is then 0 the
//! session reconnects at once instead of backing off. A server that closes every response
//! quickly still sees the delays grow: only the first quick end of a series skips the backoff.
//! Network errors, 5xx, 408 and 429 back off; other 4xx (404: no such stream) and a response
//! that is not an event stream stop, as [`Reconnect`] decides.
//!
//! # Closed streams and failures
//! `streamClosed: true` hands out [`Output::Closed`] and stops the session (the protocol:
//! clients must not reconnect). Data the session cannot hand out whole stops it too, as
//! [`Output::Failed`]: a batch larger than `DATA` (or cut by the parser's bound), bad base64,
//! an unreadable `control` event or an offset longer than [`MAX_OFFSET_LEN`]. Retrying could
//! only fetch the same bytes again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use core::fmt;

use crate::parse::{ParseError, Parser, Step};
use crate::reconnect::{self, Disconnect, Policy, Reconnect, Status, StatusKind};
use crate::time::Instant;

#[cfg(test)]
mod tests;

/// The longest offset kept, in bytes. Offsets are opaque and servers choose their format; ours
/// has 33 bytes. An offset longer than this stops the session ([`FollowError::BadOffset`]).
pub const MAX_OFFSET_LEN: usize = 256;
/// The longest `streamCursor` kept, in bytes (ours is a decimal number, at most 20 digits).
pub const MAX_CURSOR_LEN: usize = 64;
/// The most `data` events held before their `control` event (our server sends one, the
/// reference server one per message). Beyond this, events are joined into the last one, so no
/// byte is lost, only the boundary between two events.
pub const MAX_BATCH_EVENTS: usize = 64;

/// Why the session stopped without the stream being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FollowError {
    /// An offset (the start, or a `streamNextOffset`) is empty, longer than
    /// [`MAX_OFFSET_LEN`], or holds a control character or a JSON escape.
    BadOffset,
    /// A `streamCursor` is longer than [`MAX_CURSOR_LEN`] or holds a control character or a
    /// JSON escape.
    BadCursor,
    /// A `control` event is not a JSON object with a string `streamNextOffset`.
    BadControl,
    /// A `data` event of a base64 response is not valid base64 (RFC 4648, padded).
    BadBase64,
    /// The data before one `control` event is larger than the data bound (`DATA`, or the
    /// parser's run-time bound): it cannot be handed out whole.
    TooLarge,
    /// The parser dropped an event (an `event:` or `id:` line over its line bound): it may
    /// have been data.
    Dropped(ParseError),
}

impl fmt::Display for FollowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FollowError::BadOffset => {
                "offset empty, longer than 256 bytes, or with a control character or backslash"
            }
            FollowError::BadCursor => {
                "cursor longer than 64 bytes, or with a control character or backslash"
            }
            FollowError::BadControl => "the server sent a control event without a streamNextOffset",
            FollowError::BadBase64 => "the server sent a data event that is not valid base64",
            FollowError::TooLarge => "the data before one control event exceeds the data bound",
            FollowError::Dropped(_) => "the parser dropped an event (a line over its bound)",
        })
    }
}

impl core::error::Error for FollowError {}

/// How the `data` events of the current response are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encoding {
    /// UTF-8 text, as is (`text/*` and `application/json` streams).
    #[default]
    Text,
    /// Standard base64 (`stream-sse-data-encoding: base64`): binary streams.
    Base64,
}

/// What the app sees. Borrowed data lives in the session until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<'a> {
    /// The payload of one `data` event (decoded from base64 if it was), in order, exactly
    /// once. Handed out only once the `control` event after it arrived.
    Data {
        /// The bytes.
        data: &'a [u8],
        /// The offset after this data (the new resume point) on the last `data` event before
        /// a `control` event; `None` on the ones before it, whose own offsets the protocol
        /// does not send.
        next: Option<&'a str>,
    },
    /// A `control` event said `upToDate`: everything there is has been handed out (reported
    /// when this changes, not for every control event).
    UpToDate {
        /// The resume point.
        next: &'a str,
    },
    /// The stream is closed and everything was handed out: stop. The session does not
    /// reconnect.
    Closed {
        /// The stream's final offset.
        next: &'a str,
    },
    /// The session stopped: data could not be handed out whole (see [`FollowError`]).
    Failed(FollowError),
    /// The connection status changed (only the latest, if several happened between polls).
    StatusChanged(Status),
}

/// A bounded copy of one opaque token (offset or cursor) that can go into a URL query.
fn token<const N: usize>(s: &str) -> Option<heapless::String<N>> {
    let ok = !s.is_empty() && !s.bytes().any(|b| b.is_ascii_control() || b == b'\\');
    let mut out = heapless::String::new();
    (ok && out.push_str(s).is_ok()).then_some(out)
}

/// The data events held: the first `confirmed` were confirmed by a `control` event (the
/// first `handed` of those are handed out), the rest wait for theirs.
#[derive(Debug)]
struct Batch<const DATA: usize> {
    bytes: heapless::Vec<u8, DATA>,
    /// Where each event's bytes end in `bytes`.
    ends: heapless::Vec<usize, MAX_BATCH_EVENTS>,
    confirmed: usize,
    handed: usize,
    /// The run-time bound (at most `DATA`).
    max: usize,
}

impl<const DATA: usize> Batch<DATA> {
    const fn new() -> Self {
        Batch {
            bytes: heapless::Vec::new(),
            ends: heapless::Vec::new(),
            confirmed: 0,
            handed: 0,
            max: DATA,
        }
    }

    /// Where the confirmed events end.
    fn confirmed_end(&self) -> usize {
        match self.confirmed.checked_sub(1) {
            Some(last) => self.ends.get(last).copied().unwrap_or(0),
            None => 0,
        }
    }

    /// Drops the events not yet confirmed.
    fn drop_unconfirmed(&mut self) {
        self.bytes.truncate(self.confirmed_end());
        self.ends.truncate(self.confirmed);
    }

    /// Every event held so far is confirmed.
    fn confirm(&mut self) {
        self.confirmed = self.ends.len();
    }

    fn owes(&self) -> bool {
        self.handed < self.confirmed
    }

    /// The next confirmed event and whether it is the last one confirmed.
    /// Forgets the events handed out (events that came after them move to the front).
    fn compact(&mut self) {
        if self.handed == self.confirmed && self.handed > 0 {
            let cut = self.confirmed_end();
            let len = self.bytes.len();
            self.bytes.copy_within(cut..len, 0);
            self.bytes.truncate(len - cut);
            let n = self.ends.len();
            self.ends.copy_within(self.handed..n, 0);
            self.ends.truncate(n - self.handed);
            for end in self.ends.iter_mut() {
                *end -= cut;
            }
            self.confirmed = 0;
            self.handed = 0;
        }
    }

    fn hand_out(&mut self) -> Option<(&[u8], bool)> {
        if !self.owes() {
            return None;
        }
        let i = self.handed;
        self.handed += 1;
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        let last = self.handed == self.confirmed;
        Some((self.bytes.get(start..end).unwrap_or_default(), last))
    }

    /// Ends the event that started at `start` (nothing if it was empty).
    fn end_event(&mut self, start: usize) -> Result<(), FollowError> {
        let end = self.bytes.len();
        if end == start {
            return Ok(());
        }
        if self.ends.push(end).is_ok() {
            return Ok(());
        }
        if self.ends.len() > self.confirmed
            && let Some(last) = self.ends.last_mut()
        {
            // More events than the table holds: join this one to the last (not yet confirmed).
            *last = end;
            return Ok(());
        }
        // A table full of confirmed events nobody handed out.
        self.bytes.truncate(start);
        Err(FollowError::TooLarge)
    }

    fn push_text(&mut self, text: &[u8]) -> Result<(), FollowError> {
        self.compact();
        let start = self.bytes.len();
        if start + text.len() > self.max || self.bytes.extend_from_slice(text).is_err() {
            return Err(FollowError::TooLarge);
        }
        self.end_event(start)
    }

    /// Decodes `text` (line breaks between `data:` lines removed, as §5.8 says) onto the end.
    fn push_base64(&mut self, text: &str) -> Result<(), FollowError> {
        // Decoded in runs of whole 4-character groups (a multiple of 4), so padding is valid
        // only at the very end, as in the one base64 text the event is.
        const RUN: usize = 256;
        self.compact();
        let start = self.bytes.len();
        let mut run = [0u8; RUN];
        let mut n = 0;
        let mut result = Ok(());
        for b in text.bytes().filter(|&b| b != b'\n' && b != b'\r') {
            if let Some(slot) = run.get_mut(n) {
                *slot = b;
                n += 1;
            }
            if n == RUN {
                result = self.decode_run(&run);
                n = 0;
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() && n > 0 {
            result = self.decode_run(run.get(..n).unwrap_or_default());
        }
        match result {
            Ok(()) => self.end_event(start),
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    fn decode_run(&mut self, run: &[u8]) -> Result<(), FollowError> {
        let len = self.bytes.len();
        let room = (len + run.len().div_ceil(4) * 3).min(self.max);
        // `room <= max <= DATA`: the resize cannot fail.
        let _ = self.bytes.resize(room, 0);
        let out = self.bytes.get_mut(len..).unwrap_or_default();
        match STANDARD.decode_slice(run, out) {
            Ok(written) => {
                self.bytes.truncate(len + written);
                Ok(())
            }
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                self.bytes.truncate(len);
                Err(FollowError::TooLarge)
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                self.bytes.truncate(len);
                Err(FollowError::BadBase64)
            }
        }
    }
}

/// What a `control` event owes the app after the data it confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    None,
    UpToDate,
    Closed,
}

/// The event-level reader: fed `data` and `control` events, it holds data until its
/// `control` event confirms it and keeps the resume point. See the module docs.
///
/// Invariants: `offset` is the last confirmed `streamNextOffset` (or the start asked for);
/// every byte handed out lies before it; held data that is not confirmed is never handed out.
#[derive(Debug)]
pub struct Reader<const DATA: usize> {
    offset: heapless::String<MAX_OFFSET_LEN>,
    cursor: heapless::String<MAX_CURSOR_LEN>,
    batch: Batch<DATA>,
    encoding: Encoding,
    up_to_date: bool,
    closed: bool,
    edge: Edge,
    /// Control events read since [`Reader::handle_connection_lost`].
    n_controls: u64,
}

impl<const DATA: usize> Reader<DATA> {
    /// A reader starting at `start`: `-1` (the beginning), `now` (the tail) or an offset a
    /// server returned.
    ///
    /// # Errors
    /// [`FollowError::BadOffset`]: empty, longer than [`MAX_OFFSET_LEN`], or with a control
    /// character or a backslash.
    pub fn new(start: &str) -> Result<Self, FollowError> {
        Ok(Reader {
            offset: token(start).ok_or(FollowError::BadOffset)?,
            cursor: heapless::String::new(),
            batch: Batch::new(),
            encoding: Encoding::Text,
            up_to_date: false,
            closed: false,
            edge: Edge::None,
            n_controls: 0,
        })
    }

    /// The offset to ask for next (`offset=`): the last `streamNextOffset`, or the start.
    #[must_use]
    pub fn offset(&self) -> &str {
        &self.offset
    }

    /// The cursor to echo (`cursor=`), once a `control` event carried one.
    #[must_use]
    pub fn cursor(&self) -> Option<&str> {
        (!self.cursor.is_empty()).then_some(self.cursor.as_str())
    }

    /// A `control` event said `streamClosed`: do not reconnect.
    #[must_use]
    pub const fn is_closed(&self) -> bool {
        self.closed
    }

    /// The last `control` event said `upToDate` (or `streamClosed`), and no data came since.
    #[must_use]
    pub const fn is_up_to_date(&self) -> bool {
        self.up_to_date
    }

    /// `control` events read on the current response.
    #[must_use]
    pub const fn n_controls(&self) -> u64 {
        self.n_controls
    }

    /// Lowers the data bound to `data` bytes (at most `DATA`).
    pub fn set_limit(&mut self, data: usize) {
        self.batch.max = data.min(DATA);
    }

    /// A new response: its `data` events are encoded as `encoding`.
    pub fn handle_response(&mut self, encoding: Encoding) {
        self.encoding = encoding;
        self.n_controls = 0;
    }

    /// The response ended or was dropped: data not yet confirmed is dropped (it comes again
    /// from the offset it started at). Confirmed data not yet handed out is kept.
    pub fn handle_connection_lost(&mut self) {
        self.batch.drop_unconfirmed();
        self.n_controls = 0;
    }

    /// One dispatched SSE event: `data` is held, `control` confirms what is held; other
    /// types are ignored. `truncated`: the parser cut the data at its bound. Call
    /// [`Reader::poll_output`] until `None` after each event.
    ///
    /// # Errors
    /// See [`FollowError`]; what was held is dropped, the resume point is unchanged.
    pub fn handle_event(
        &mut self,
        event_type: &str,
        data: &str,
        truncated: bool,
    ) -> Result<(), FollowError> {
        let result = match event_type {
            _ if self.closed => Ok(()),
            "data" if truncated => Err(FollowError::TooLarge),
            "data" => {
                self.up_to_date = false;
                match self.encoding {
                    Encoding::Text => self.batch.push_text(data.as_bytes()),
                    Encoding::Base64 => self.batch.push_base64(data),
                }
            }
            "control" => self.handle_control(data),
            _ => Ok(()),
        };
        if result.is_err() {
            self.batch.drop_unconfirmed();
        }
        result
    }

    fn handle_control(&mut self, json: &str) -> Result<(), FollowError> {
        let control = ControlRef::parse(json)?;
        let offset = token(control.next).ok_or(FollowError::BadOffset)?;
        let cursor = match control.cursor {
            Some(c) => Some(token(c).ok_or(FollowError::BadCursor)?),
            None => None,
        };
        self.offset = offset;
        if let Some(c) = cursor {
            self.cursor = c;
        }
        self.n_controls = self.n_controls.saturating_add(1);
        let was_up_to_date = self.up_to_date;
        self.up_to_date = control.up_to_date || control.closed;
        self.closed = control.closed;
        self.edge = if control.closed {
            Edge::Closed
        } else if self.up_to_date && !was_up_to_date {
            Edge::UpToDate
        } else {
            Edge::None
        };
        self.batch.confirm();
        Ok(())
    }

    /// Whether [`Reader::poll_output`] has something.
    #[must_use]
    pub fn owes_output(&self) -> bool {
        self.batch.owes() || self.edge != Edge::None
    }

    /// The next output: confirmed data event by event, then `UpToDate` or `Closed`. Call
    /// until `None`.
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        if self.batch.owes() {
            let offset = self.offset.as_str();
            return self.batch.hand_out().map(|(data, last)| Output::Data {
                data,
                next: last.then_some(offset),
            });
        }
        let edge = core::mem::replace(&mut self.edge, Edge::None);
        match edge {
            Edge::None => None,
            Edge::UpToDate => Some(Output::UpToDate { next: &self.offset }),
            Edge::Closed => Some(Output::Closed { next: &self.offset }),
        }
    }
}

/// The fields of a `control` event that a reader needs, borrowed from its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ControlRef<'a> {
    /// `streamNextOffset` (raw JSON string text).
    pub next: &'a str,
    /// `streamCursor` (a string, or a number's text); `None` when absent.
    pub cursor: Option<&'a str>,
    /// `upToDate: true`.
    pub up_to_date: bool,
    /// `streamClosed: true`.
    pub closed: bool,
}

impl<'a> ControlRef<'a> {
    /// Reads a `control` event's JSON: a flat object (nested values of other members are
    /// skipped, up to 32 levels), the last member of a name winning. String values are taken
    /// as their raw text: a value with an escape is refused where it matters (offsets and
    /// cursors never need one).
    ///
    /// # Errors
    /// [`FollowError::BadControl`]: not a JSON object, cut short, or no string
    /// `streamNextOffset`.
    pub fn parse(json: &'a str) -> Result<ControlRef<'a>, FollowError> {
        let mut c = ControlRef {
            next: "",
            cursor: None,
            up_to_date: false,
            closed: false,
        };
        let mut next = None;
        let mut j = Json {
            s: json.as_bytes(),
            pos: 0,
        };
        j.expect(b'{')?;
        if !j.eat(b'}')? {
            loop {
                let key = j.string()?;
                j.expect(b':')?;
                let value = j.value()?;
                match (key, value) {
                    ("streamNextOffset", Value::Str(s)) => next = Some(s),
                    ("streamNextOffset", _) => next = None,
                    ("streamCursor", Value::Str(s) | Value::Scalar(s)) if s != "null" => {
                        c.cursor = Some(s);
                    }
                    ("streamCursor", _) => c.cursor = None,
                    ("upToDate", v) => c.up_to_date = v == Value::Scalar("true"),
                    ("streamClosed", v) => c.closed = v == Value::Scalar("true"),
                    _ => {}
                }
                if j.eat(b'}')? {
                    break;
                }
                j.expect(b',')?;
            }
        }
        c.next = next.ok_or(FollowError::BadControl)?;
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    /// A string's raw text.
    Str(&'a str),
    /// `true`, `false`, `null` or a number, as written.
    Scalar(&'a str),
    /// An object or array (skipped).
    Nested,
}

/// A cursor over JSON text; every surprise is [`FollowError::BadControl`].
struct Json<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Json<'a> {
    const MAX_DEPTH: u32 = 32;

    fn peek(&mut self) -> Result<u8, FollowError> {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(FollowError::BadControl)
    }

    fn eat(&mut self, b: u8) -> Result<bool, FollowError> {
        let found = self.peek()? == b;
        self.pos += usize::from(found);
        Ok(found)
    }

    fn expect(&mut self, b: u8) -> Result<(), FollowError> {
        if self.eat(b)? {
            Ok(())
        } else {
            Err(FollowError::BadControl)
        }
    }

    /// A string's raw text between its quotes (escapes skipped, not decoded).
    fn string(&mut self) -> Result<&'a str, FollowError> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.s.get(self.pos) {
                None => return Err(FollowError::BadControl),
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.s.get(start..self.pos).ok_or(FollowError::BadControl)?;
        self.pos += 1;
        core::str::from_utf8(raw).map_err(|_| FollowError::BadControl)
    }

    fn value(&mut self) -> Result<Value<'a>, FollowError> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'{' | b'[' => {
                // Skip to the matching close; strings may hold brackets.
                let mut depth = 0u32;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(Value::Nested);
                    }
                    if depth > Self::MAX_DEPTH {
                        return Err(FollowError::BadControl);
                    }
                }
            }
            _ => {
                let rest = self.s.get(self.pos..).unwrap_or_default();
                let n = rest
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                    .count();
                if n == 0 {
                    return Err(FollowError::BadControl);
                }
                let text = rest.get(..n).unwrap_or_default();
                self.pos += n;
                core::str::from_utf8(text)
                    .map(Value::Scalar)
                    .map_err(|_| FollowError::BadControl)
            }
        }
    }
}

/// What the shell must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Action {
    /// Open `GET URL?offset={offset}&live=sse`, with `&cursor={cursor}` when
    /// [`Follow::cursor`] is `Some` (both URL-encoded), then report the response with
    /// [`Follow::handle_response`].
    Connect,
    /// Drop the current connection, if one is still held.
    Close,
}

/// The client session: SSE parser + [`Reader`] + [`Reconnect`]. `LINE` and `DATA` bound the
/// parser; `DATA` also bounds the data held before its `control` event (so the session holds
/// two `DATA`-byte buffers).
#[derive(Debug)]
pub struct Follow<const LINE: usize, const DATA: usize> {
    parser: Parser<LINE, DATA>,
    reader: Reader<DATA>,
    reconnect: Reconnect,
    reported: Status,
    failure: Option<FollowError>,
    failure_owed: bool,
}

impl<const LINE: usize, const DATA: usize> Follow<LINE, DATA> {
    /// A stopped session that will ask for `start` (`-1`, `now` or an offset).
    ///
    /// # Errors
    /// [`FollowError::BadOffset`] for a `start` [`Reader::new`] refuses.
    pub fn new(policy: Policy, seed: u64, start: &str) -> Result<Self, FollowError> {
        let reconnect = Reconnect::new(policy, seed);
        Ok(Follow {
            parser: Parser::new(),
            reader: Reader::new(start)?,
            reported: reconnect.status(),
            reconnect,
            failure: None,
            failure_owed: false,
        })
    }

    /// Starts connecting now (again after a retryable stop; never after the stream closed or
    /// the session failed).
    pub fn start(&mut self, now: Instant) {
        if !self.reader.is_closed() && self.failure.is_none() {
            self.reconnect.start(now);
        }
    }

    /// Closes any connection and stops reconnecting.
    pub fn stop(&mut self) {
        self.reconnect.stop();
    }

    /// The response head arrived: `200` with `text/event-stream` opens the stream, its data
    /// encoded as `base64` says (`stream-sse-data-encoding: base64`); any other answer is
    /// [`Reconnect`]'s to classify (404 stops, 503 backs off, …). Ignored unless connecting.
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        is_event_stream: bool,
        base64: bool,
    ) {
        if self.reconnect.status().kind != StatusKind::Connecting {
            return;
        }
        match (status, is_event_stream) {
            (200, true) => {
                self.reconnect.handle_connected(now);
                self.reader.handle_response(if base64 {
                    Encoding::Base64
                } else {
                    Encoding::Text
                });
            }
            (200, false) => self
                .reconnect
                .handle_disconnected(now, Disconnect::NotEventStream),
            (code, _) => self
                .reconnect
                .handle_disconnected(now, Disconnect::HttpStatus(code)),
        }
    }

    /// Runs one parser step over the front of `input` (advancing it) and returns what the app
    /// should see, if anything. A pending [`Follow::poll_output`] item is returned first,
    /// without consuming input. Bytes that arrive when no stream is open are discarded.
    pub fn handle_bytes(&mut self, now: Instant, input: &mut &[u8]) -> Option<Output<'_>> {
        if self.owes_output() {
            return self.poll_output();
        }
        if self.reconnect.status().kind != StatusKind::Connected {
            *input = &[];
            return None;
        }
        if input.is_empty() {
            return None;
        }
        self.reconnect.handle_bytes(now);
        let result = match self.parser.push(input) {
            Ok(Step::Event(ev)) => self
                .reader
                .handle_event(ev.event_type, ev.data, ev.truncated),
            Ok(Step::Retry(d)) => {
                self.reconnect.handle_retry_hint(d);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(FollowError::Dropped(e)),
        };
        match result {
            Err(e) => self.fail(e),
            Ok(()) if self.reader.is_closed() => self.reconnect.stop(),
            Ok(()) => {}
        }
        self.poll_output()
    }

    fn fail(&mut self, e: FollowError) {
        self.failure = Some(e);
        self.failure_owed = true;
        self.reconnect.stop();
    }

    /// The connection ended or could not open. A clean end after a `control` event is the
    /// protocol's routine end: see the module docs. Ignored unless a connection is under way.
    pub fn handle_disconnected(&mut self, now: Instant, why: Disconnect) {
        let routine = why == Disconnect::EndOfStream
            && self.reconnect.status().kind == StatusKind::Connected
            && self.reader.n_controls() > 0;
        if routine {
            // The server's FIN is proof the connection lived to its end.
            self.reconnect.handle_bytes(now);
        }
        let at_once = routine && self.reconnect.attempt() == 0;
        self.reconnect.handle_disconnected(now, why);
        if at_once && self.reconnect.status().kind == StatusKind::Disconnected {
            self.reconnect.start(now);
        }
    }

    /// The timer from [`Follow::poll_timeout`] fired; early calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reconnect.handle_timeout(now);
    }

    /// The next connection action; call until `None` after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = match self.reconnect.poll_action()? {
            reconnect::Action::Connect => Action::Connect,
            _ => Action::Close,
        };
        // A new response (or none): a half-read event and unconfirmed data are dropped.
        self.parser.finish();
        self.reader.handle_connection_lost();
        Some(action)
    }

    fn owes_output(&self) -> bool {
        self.reader.owes_output() || self.failure_owed || self.reconnect.status() != self.reported
    }

    /// Outputs not tied to new bytes: confirmed data still to hand out, `UpToDate`, `Closed`,
    /// `Failed`, then [`Output::StatusChanged`]. Call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        if self.reader.owes_output() {
            return self.reader.poll_output();
        }
        if self.failure_owed {
            self.failure_owed = false;
            return self.failure.map(Output::Failed);
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

    /// The offset to ask for with the next [`Action::Connect`].
    #[must_use]
    pub fn offset(&self) -> &str {
        self.reader.offset()
    }

    /// The cursor to echo with the next [`Action::Connect`], if the server sent one.
    #[must_use]
    pub fn cursor(&self) -> Option<&str> {
        self.reader.cursor()
    }

    /// The stream is closed: the session is done (exit successfully).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.reader.is_closed()
    }

    /// Why the session stopped, if data could not be handed out.
    #[must_use]
    pub fn failure(&self) -> Option<FollowError> {
        self.failure
    }

    /// The connection status now.
    #[must_use]
    pub fn status(&self) -> Status {
        self.reconnect.status()
    }

    /// When the next attempt starts, while backing off.
    #[must_use]
    pub fn retry_at(&self) -> Option<Instant> {
        self.reconnect.retry_at()
    }

    /// Lowers the parser's bounds and the data bound (see [`Parser::set_limits`]).
    #[cfg(feature = "std")]
    pub fn set_limits(&mut self, line: usize, data: usize) {
        self.parser.set_limits(line, data);
        self.reader.set_limit(data);
    }

    /// The bounds in force: (line, data) bytes.
    #[must_use]
    pub fn limits(&self) -> (usize, usize) {
        self.parser.limits()
    }
}
