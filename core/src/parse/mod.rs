//! Heads up! Read WHATWG HTML §9.2.5 "Parsing an event stream" and §9.2.6 "Interpreting an
//! event stream" (including "dispatch the event") before editing this file.
//!
//! An incremental, allocation-free `text/event-stream` parser. Bytes go in with any chunking,
//! [`Step`]s come out; the sequence of steps never depends on where the input was split.
//!
//! # Bounds
//! Every buffer is fixed at compile time, so a peer cannot make the parser grow:
//! - `DATA` bytes hold the joined `data` of one event. `data:` values are decoded straight into
//!   this buffer, so a long data line never needs `LINE` bytes. An event whose data does not
//!   fit is still delivered, cut at a UTF-8 character boundary, with [`Event::truncated`] set.
//!   (A single valid data line that arrives in one push with its blank line is not copied at
//!   all: see [`Parser::push`].)
//! - `LINE` bytes bound each of: the event type, the last event ID (and the `id:` value being
//!   read), and one comment. An over-long `event:` or `id:` value drops its event: the blank
//!   line that would dispatch it returns [`ParseError::LineTooLong`] instead (one error per
//!   event, however many lines were too long). The event's other fields still count as WHATWG
//!   says: its `id:` lines set the last event ID (dispatch step 1 still runs), so the resume
//!   point survives an over-long `event:` line. An over-long `id:` value cannot be kept, so it
//!   leaves the last event ID buffer as it was (the previous resume point). An over-long
//!   comment is cut to `LINE` bytes. Unknown fields are never buffered.
//!
//! The parser holds `4 * LINE + DATA` bytes plus a few words of state.
//!
//! [`Parser::set_limits`] (hosts, `std`) lowers both bounds at run time (a shell with a user-set limit builds
//! the parser with the largest bounds it allows and lowers them); every rule above then applies
//! at the lowered bound, exactly as if the type had been built with it.
//!
//! # Decoding
//! > Streams must be decoded using the UTF-8 decode algorithm. […] The UTF-8 decode algorithm
//! > strips one leading UTF-8 Byte Order Mark (BOM), if any.
//!
//! Line ends (CR, LF) and `:` are ASCII and are never part of a multi-byte sequence, so the
//! parser splits lines on raw bytes and decodes each value on its own; a sequence that is cut off
//! by a line end becomes U+FFFD exactly as whole-stream decoding would make it. Each maximal
//! invalid subpart becomes one U+FFFD (the WHATWG decoder, same as `String::from_utf8_lossy`).
//! Comments are decoded the same way and handed out as `&str` ([`Step::Comment`]).
#![deny(clippy::indexing_slicing)]

use core::fmt;

use memchr::memchr;

use crate::time::Duration;

mod fast;
mod scan;
#[cfg(test)]
mod tests;
mod text;
mod utf8;

use scan::{Line, same_bytes, split_field, split_line, whole_line};
use text::{Bounded, Sink, Text, Truncating};
use utf8::{Utf8, utf8};

/// The UTF-8 byte order mark, stripped once at the start of each stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The longest field name the parser acts on (`event`, `retry`). Longer names are unknown fields
/// and are skipped without being buffered.
const MAX_NAME: usize = 5;

/// The event type when the stream names none.
const DEFAULT_TYPE: &str = "message";

/// Incremental WHATWG `text/event-stream` parser.
///
/// Feed bytes with [`push`](Self::push) in any chunking and act on each [`Step`]; call
/// [`finish`](Self::finish) when the connection ends. No allocation, no clock, no panics.
///
/// `LINE` bounds the event type, the last event ID and comments; `DATA` bounds the joined data
/// of one event (see the [module docs](self) for what happens at each bound).
///
/// ```
/// use sse_core::parse::{Parser, Step};
///
/// let mut parser = Parser::<64, 256>::new();
/// let mut input: &[u8] = b"event: state\r\nid: 7\ndata: {\"a\":1}\n\n";
/// let mut seen = 0;
/// loop {
///     match parser.push(&mut input) {
///         Ok(Step::NeedMore) => break,
///         Ok(Step::Event(ev)) => {
///             assert_eq!((ev.event_type, ev.data, ev.last_event_id), ("state", "{\"a\":1}", "7"));
///             seen += 1;
///         }
///         Ok(_) => {}
///         Err(e) => panic!("{e}"),
///     }
/// }
/// assert_eq!(seen, 1);
/// parser.finish();
/// assert_eq!(parser.last_event_id(), "7");
/// ```
#[derive(Clone)]
pub struct Parser<const LINE: usize, const DATA: usize> {
    state: State,
    /// A UTF-8 sequence of the current value that was split across pushes.
    utf8: Utf8,
    /// A value of this event did not fit: its blank line reports [`ParseError::LineTooLong`]
    /// instead of dispatching it.
    discarding: bool,
    /// An [`Step::Event`] borrowed the buffers; clear them on the next push.
    dispatched: bool,
    /// The spec's data buffer, without its trailing LF (see [`Parser::begin_value`]).
    data: Text<DATA>,
    /// At least one `data` field was seen: the data buffer is "not empty" even if `data` is "".
    has_data: bool,
    /// `data` did not fit in `DATA` bytes.
    truncated: bool,
    /// The spec's event type buffer, if `type_set`; empty otherwise. (Clearing it only resets
    /// `type_set`, so an `event:` line that names the type of the previous event costs just a
    /// comparison.)
    event_type: Text<LINE>,
    /// `event_type` holds the event type buffer.
    type_set: bool,
    /// The `id:` value or comment being read.
    scratch: Text<LINE>,
    /// The comment did not fit in `scratch`.
    comment_cut: bool,
    /// The `id:` value being read contains NUL.
    id_nul: bool,
    /// The `retry:` value being read, once it has a digit.
    retry_value: Option<u64>,
    /// The spec's last event ID buffer (`ids[buf]`) and the event source's last event ID
    /// string (`ids[last]`: what a reconnect sends as `Last-Event-ID`). Dispatch makes the
    /// string equal to the buffer; while they are equal they share a slot, so that costs an
    /// index store instead of a copy, and an `id` field writes into the other slot.
    ids: [Text<LINE>; 2],
    /// Index of the last event ID buffer in `ids`.
    buf: u8,
    /// Index of the last event ID string in `ids`.
    last: u8,
    /// The reconnection time set by the stream.
    retry: Option<Duration>,
}

/// What one call to [`Parser::push`] produced.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step<'p> {
    /// All input was consumed without completing an item; push more bytes.
    NeedMore,
    /// A blank line dispatched an event. It borrows the parser until the next call, and its
    /// `data` may be borrowed from the input instead (see [`Parser::push`]).
    Event(Event<'p>),
    /// A comment line: what follows the `:`, decoded (U+FFFD for invalid UTF-8) and cut to at
    /// most `LINE` bytes at a character boundary. Servers send these as keep-alives.
    Comment(&'p str),
    /// A valid `retry:` field set the reconnection time. Hand it to the reconnect policy.
    Retry(Duration),
}

/// One dispatched event. (`#[non_exhaustive]`: read its fields; only the parser makes one.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event<'p> {
    /// The `event:` field, or `"message"` if the event had none.
    pub event_type: &'p str,
    /// The `data:` lines joined with LF.
    pub data: &'p str,
    /// The last event ID at dispatch (it persists across events until an `id:` changes it).
    pub last_event_id: &'p str,
    /// `data` did not fit in the parser's `DATA` bytes and was cut at a character boundary.
    pub truncated: bool,
}

/// A recoverable parse error: the parser has already resynchronised; keep pushing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseError {
    /// An `event:` or `id:` value exceeded `LINE` bytes. Reported at the blank line that would
    /// have dispatched the event, which is dropped; its `id:` lines that fit still set the last
    /// event ID.
    LineTooLong,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::LineTooLong => {
                f.write_str("field value longer than the line limit; event dropped")
            }
        }
    }
}

impl core::error::Error for ParseError {}

/// Why [`Parser::set_last_event_id`] refused an ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SeedError {
    /// Longer than the parser's `LINE` bytes.
    TooLong,
    /// Contains U+0000, which the stream itself could never set.
    ContainsNul,
    /// Contains CR, which cannot be part of an `id:` line.
    ContainsCr,
    /// Contains LF, which cannot be part of an `id:` line.
    ContainsLf,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SeedError::TooLong => "last event ID longer than the line limit",
            SeedError::ContainsNul => "last event ID contains NUL",
            SeedError::ContainsCr => "last event ID contains CR",
            SeedError::ContainsLf => "last event ID contains LF",
        })
    }
}

impl core::error::Error for SeedError {}

/// Where the parser is within a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a stream, `seen` bytes of the BOM matched.
    Bom(u8),
    /// At the start of a line.
    LineStart,
    /// Just after a CR: an LF here completes a CRLF line end, not a blank line.
    AfterCr,
    /// Reading a field name; only names up to [`MAX_NAME`] bytes are kept.
    Name { name: [u8; MAX_NAME], len: u8 },
    /// Just after `field:`; one leading space is dropped here.
    ValueStart(Field),
    /// Reading a field value.
    Value(Field),
    /// Reading a comment.
    Comment,
    /// Ignoring the rest of the line (unknown field, junk `retry`, error recovery).
    Skip,
}

/// A field the parser acts on. (What it learns of an `id` or `retry` value on the way lives in
/// [`Parser::id_nul`] and [`Parser::retry_value`], which keeps this one byte.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Event,
    Data,
    Id,
    Retry,
}

impl Field {
    /// > Field names must be compared literally, with no case folding performed.
    fn from_name(name: &[u8]) -> Option<Field> {
        match name {
            b"event" => Some(Field::Event),
            b"data" => Some(Field::Data),
            b"id" => Some(Field::Id),
            b"retry" => Some(Field::Retry),
            _ => None,
        }
    }
}

/// An item ready to hand out; [`Parser::push`] turns it into a borrowing [`Step`].
enum Item<'i> {
    /// An event; its data is lent from the input (see [`Parser::lines`]) or in the data buffer.
    Event(Option<&'i str>),
    Comment,
    Retry(Duration),
    /// The blank line of an event that had a value too long to keep.
    Dropped,
}

/// The value being read does not fit its buffer.
struct Overflow;

impl<const LINE: usize, const DATA: usize> Default for Parser<LINE, DATA> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const LINE: usize, const DATA: usize> fmt::Debug for Parser<LINE, DATA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser")
            .field("state", &self.state)
            .field("discarding", &self.discarding)
            .field("data_len", &self.data.len())
            .field("last_event_id", &self.last_event_id())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<const LINE: usize, const DATA: usize> Parser<LINE, DATA> {
    /// A parser at the start of a stream, with an empty last event ID and no reconnection time.
    ///
    /// > When a stream is parsed, a data buffer, an event type buffer, and a last event ID
    /// > buffer must be associated with it. They must be initialized to the empty string.
    #[must_use]
    pub const fn new() -> Self {
        Parser {
            state: State::Bom(0),
            utf8: Utf8::new(),
            discarding: false,
            dispatched: false,
            data: Text::new(),
            has_data: false,
            truncated: false,
            event_type: Text::new(),
            type_set: false,
            scratch: Text::new(),
            comment_cut: false,
            id_nul: false,
            retry_value: None,
            ids: [Text::new(), Text::new()],
            buf: 0,
            last: 0,
            retry: None,
        }
    }

    /// Consumes bytes from the front of `input` (advancing the slice) until an item is ready or
    /// the input runs out ([`Step::NeedMore`]). Call again with the rest until `NeedMore`.
    ///
    /// Zero copy: when an event has a single `data:` line that is valid UTF-8, fits in `DATA`
    /// bytes and lies in `input` together with the blank line that dispatches it, the event's
    /// `data` points into `input` rather than into the parser. So a [`Step`] may borrow from
    /// both (the input has to outlive it); what it contains never depends on how the input was
    /// split.
    ///
    /// # Errors
    /// [`ParseError::LineTooLong`] at the blank line of an event with an `event:` or `id:` value
    /// longer than `LINE` bytes. The error is already recovered from (the event is dropped), and
    /// at least one byte was consumed: keep pushing.
    pub fn push<'p, 'i: 'p>(&'p mut self, input: &mut &'i [u8]) -> Result<Step<'p>, ParseError> {
        if self.dispatched {
            // > 7. Set the data buffer and the event type buffer to the empty string.
            // Deferred until the caller is done with the borrowed event.
            self.dispatched = false;
            self.clear_event();
        }
        Ok(match self.advance(input)? {
            None => Step::NeedMore,
            Some(Item::Event(lent)) => Step::Event(self.event(lent)),
            Some(Item::Comment) => Step::Comment(self.scratch.as_str()),
            Some(Item::Retry(d)) => Step::Retry(d),
            Some(Item::Dropped) => return Err(ParseError::LineTooLong),
        })
    }

    /// Ends one connection's stream.
    ///
    /// > Once the end of the file is reached, any pending data must be discarded. (If the file
    /// > ends in the middle of an event, before the final empty line, the incomplete event is
    /// > not dispatched.)
    ///
    /// The next byte pushed starts a new stream (a BOM is stripped again). The last event ID
    /// and the reconnection time are kept; `id:` lines of the discarded event do not count,
    /// as the spec's last event ID *string* only changes when an event is dispatched.
    pub fn finish(&mut self) {
        self.state = State::Bom(0);
        self.utf8 = Utf8::new();
        self.discarding = false;
        self.dispatched = false;
        self.clear_event();
        self.buf = self.last;
    }

    /// The last event ID: what to send as `Last-Event-ID` after a reconnect; empty if none.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        self.id_slot(self.last).as_str()
    }

    /// Lowers the bounds to `line` and `data` bytes (each at most `LINE` and `DATA`; larger
    /// values count as those). Behaves as `Parser::<line, data>` would from here on; call it
    /// before the first push (values already buffered are kept).
    ///
    /// Hosts only (`std`): on a device the bounds are the type's, so the checks compile to
    /// constants (about 1 KB of flash less on the firmware).
    #[cfg(feature = "std")]
    pub fn set_limits(&mut self, line: usize, data: usize) {
        let line = line.min(LINE);
        self.event_type.max = line;
        self.scratch.max = line;
        for id in &mut self.ids {
            id.max = line;
        }
        self.data.max = data.min(DATA);
    }

    /// The bounds in force: (line, data) bytes.
    #[must_use]
    pub fn limits(&self) -> (usize, usize) {
        (self.scratch.max(), self.data.max())
    }

    /// Seeds the last event ID, as after a reconnect that sent `Last-Event-ID: id`.
    ///
    /// # Errors
    /// The ID is refused, and the current one kept, if it is longer than `LINE` bytes or
    /// contains NUL, CR or LF (none of which a stream could have set).
    pub fn set_last_event_id(&mut self, id: &str) -> Result<(), SeedError> {
        let bytes = id.as_bytes();
        if memchr(0, bytes).is_some() {
            return Err(SeedError::ContainsNul);
        }
        if memchr(b'\r', bytes).is_some() {
            return Err(SeedError::ContainsCr);
        }
        if memchr(b'\n', bytes).is_some() {
            return Err(SeedError::ContainsLf);
        }
        if id.len() > self.scratch.max() {
            return Err(SeedError::TooLong);
        }
        let last = self.id_slot_mut(self.last);
        last.clear();
        last.push(id);
        self.buf = self.last;
        Ok(())
    }

    /// The reconnection time most recently set by a `retry:` field, if any.
    #[must_use]
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Runs the line machine until an item is ready (`Some`) or `input` is empty (`None`).
    fn advance<'i>(&mut self, input: &mut &'i [u8]) -> Result<Option<Item<'i>>, ParseError> {
        loop {
            if self.state == State::LineStart
                && let Some(item) = self.lines(input)?
            {
                return Ok(Some(item));
            }
            let bytes: &'i [u8] = input;
            let Some((&byte, rest)) = bytes.split_first() else {
                return Ok(None);
            };
            match self.state {
                State::Bom(seen) => {
                    if BOM.get(usize::from(seen)) == Some(&byte) {
                        *input = rest;
                        self.state = if seen == 2 {
                            State::LineStart
                        } else {
                            State::Bom(seen + 1)
                        };
                    } else if seen == 0 {
                        self.state = State::LineStart;
                    } else {
                        // A partial BOM decodes to U+FFFD at the start of a line: a field name
                        // we do not know, so the line is ignored.
                        self.state = State::Skip;
                    }
                }
                State::AfterCr => {
                    // > a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair
                    if byte == b'\n' {
                        *input = rest;
                    }
                    self.state = State::LineStart;
                }
                State::LineStart => {
                    if byte == b'\r' || byte == b'\n' {
                        // > If the line is empty (a blank line): Dispatch the event.
                        *input = rest;
                        self.state = line_end(byte);
                        if let Some(item) = self.blank_line() {
                            return Ok(Some(item));
                        }
                    } else if byte == b':' {
                        // (Whole lines were taken by `lines`: this one continues in a later push.)
                        // > If the line starts with a U+003A COLON character (:): Ignore the line.
                        *input = rest;
                        self.begin_comment();
                        self.state = State::Comment;
                    } else {
                        self.state = State::Name {
                            name: [0; MAX_NAME],
                            len: 0,
                        };
                    }
                }
                State::Name { mut name, len } => match byte {
                    b':' | b'\r' | b'\n' => {
                        // > If the line contains a U+003A COLON character (:): Collect the
                        // > characters on the line before the first U+003A COLON character
                        // > (:), and let field be that string. […]
                        // > Otherwise, the string is not empty but does not contain a U+003A
                        // > COLON character (:): Process the field […] using the whole line as
                        // > the field name, and the empty string as the field value.
                        let known = name.get(..usize::from(len)).and_then(Field::from_name);
                        self.state = match known {
                            None => State::Skip,
                            Some(field) => {
                                self.begin_value(field);
                                if byte == b':' {
                                    *input = rest;
                                    State::ValueStart(field)
                                } else {
                                    State::Value(field)
                                }
                            }
                        };
                    }
                    _ => {
                        if let Some(slot) = name.get_mut(usize::from(len)) {
                            *slot = byte;
                            *input = rest;
                            self.state = State::Name { name, len: len + 1 };
                        } else {
                            // > Otherwise: The field is ignored.
                            self.state = State::Skip;
                        }
                    }
                },
                State::ValueStart(field) => {
                    // > If value starts with a U+0020 SPACE character, remove it from value.
                    if byte == b' ' {
                        *input = rest;
                    }
                    self.state = State::Value(field);
                }
                State::Value(field) => {
                    let (value, tail) = split_line(bytes);
                    match self.feed_value(field, value) {
                        Ok(true) => {}
                        Ok(false) => {
                            // A `retry` value with a non-digit: ignore the field.
                            *input = tail;
                            self.state = State::Skip;
                            continue;
                        }
                        Err(Overflow) => {
                            // The rest of the line is skipped; the blank line reports it.
                            *input = tail;
                            self.state = State::Skip;
                            self.drop_event();
                            continue;
                        }
                    }
                    let Some((&end, after)) = tail.split_first() else {
                        *input = tail;
                        self.state = State::Value(field);
                        return Ok(None);
                    };
                    *input = after;
                    self.state = line_end(end);
                    match self.end_value(field) {
                        Ok(Some(item)) => return Ok(Some(item)),
                        Ok(None) => {}
                        Err(Overflow) => self.drop_event(),
                    }
                }
                State::Comment => {
                    let (comment, tail) = split_line(bytes);
                    self.feed_comment(comment);
                    let Some((&end, after)) = tail.split_first() else {
                        *input = tail;
                        return Ok(None);
                    };
                    *input = after;
                    self.state = line_end(end);
                    self.end_comment();
                    return Ok(Some(Item::Comment));
                }
                State::Skip => {
                    let (_, tail) = split_line(bytes);
                    *input = tail;
                    if let Some((&end, after)) = tail.split_first() {
                        *input = after;
                        self.state = line_end(end);
                    }
                }
            }
        }
    }

    /// The common case: takes the whole lines at the front of `input` (the same steps as the
    /// byte-wise states, a line at a time) until an item is ready or only part of a line is left.
    /// Call only at the start of a line.
    ///
    /// Zero copy: the data of an event with a single `data:` line is lent from `input` when
    /// that line is valid UTF-8, fits in `DATA` bytes and the blank line that dispatches the
    /// event is in `input` too. Anything else that touches the event first moves the lent data
    /// into the data buffer ([`Parser::spill`]), so what the caller sees never depends on
    /// where the input was split.
    fn lines<'i>(&mut self, input: &mut &'i [u8]) -> Result<Option<Item<'i>>, ParseError> {
        let mut lent: Option<&'i str> = None;
        // At most one try per event, so no line is looked at more than twice.
        let mut try_whole = true;
        loop {
            if try_whole && lent.is_none() && !self.has_data && !self.discarding {
                try_whole = false;
                if let Some(item) = self.whole_event(input) {
                    return Ok(Some(item));
                }
            }
            let Some((line, end, after)) = whole_line(input) else {
                break;
            };
            // A CR line end takes the LF of a CRLF with it if it is here; at the end of the
            // input the next push has to look (`AfterCr`).
            let (after, state) = match (end, after.split_first()) {
                (b'\r', Some((b'\n', after))) => (after, State::LineStart),
                (b'\r', None) => (after, State::AfterCr),
                _ => (after, State::LineStart),
            };
            *input = after;
            self.state = state;
            if line.is_empty() {
                // > If the line is empty (a blank line): Dispatch the event.
                match self.blank_line() {
                    Some(Item::Event(None)) => return Ok(Some(Item::Event(lent))),
                    Some(item) => return Ok(Some(item)),
                    None => {}
                }
                // Nothing was dispatched: there was no data, so nothing was lent.
                try_whole = true;
                continue;
            }
            let line = split_field(line);
            // Lend a value that decodes to itself (valid UTF-8) and is not cut (it fits).
            if let Line::Field(Field::Data, value) = line
                && lent.is_none()
                && !self.has_data
                && value.len() <= self.data.max()
                && let Ok(text) = utf8(value)
            {
                self.has_data = true;
                lent = Some(text);
                continue;
            }
            if !matches!(
                line,
                Line::Field(Field::Event | Field::Id, _) | Line::Ignored
            ) {
                // The line adds to the data or hands out an item first.
                self.spill(&mut lent);
            }
            match self.line(line) {
                Ok(None) => {}
                Ok(Some(item)) => return Ok(Some(item)),
                Err(Overflow) => self.drop_event(),
            }
        }
        self.spill(&mut lent);
        Ok(None)
    }
    /// Moves data lent from the input into the data buffer (it fits: see [`Parser::lines`]).
    fn spill(&mut self, lent: &mut Option<&str>) {
        if let Some(text) = lent.take() {
            self.data_sink().put(text);
        }
    }

    /// Processes one whole, non-empty line (the same steps as the byte-wise states, at once).
    fn line<'i>(&mut self, line: Line<'_>) -> Result<Option<Item<'i>>, Overflow> {
        let (field, value) = match line {
            Line::Comment(comment) => {
                self.begin_comment();
                self.feed_comment(comment);
                self.end_comment();
                return Ok(Some(Item::Comment));
            }
            Line::Field(field, value) => (field, value),
            Line::Ignored => return Ok(None),
        };
        // Valid UTF-8 that fits decodes to itself: take it in one step. (Anything else goes
        // through the decoder below, which does the same for each piece of a split line.)
        if value.len() <= self.scratch.max() && matches!(field, Field::Event | Field::Id) {
            if field == Field::Event && same_bytes(value, self.event_type.as_str().as_bytes()) {
                // Streams tend to name the same type again and again: no need to copy it.
                self.type_set = true;
                return Ok(None);
            }
            // > If the field value does not contain U+0000 NULL, then set the last event ID
            // > buffer to the field value. Otherwise, ignore the field.
            let takes = field == Field::Event || !value.contains(&0);
            if takes && let Ok(text) = utf8(value) {
                let slot = if field == Field::Event {
                    self.type_set = true;
                    &mut self.event_type
                } else {
                    self.id_buffer_mut()
                };
                slot.clear();
                slot.push(text);
                return Ok(None);
            }
        }
        self.begin_value(field);
        if self.feed_value(field, value)? {
            self.end_value(field)
        } else {
            Ok(None)
        }
    }

    fn begin_comment(&mut self) {
        self.utf8 = Utf8::new();
        self.scratch.clear();
        self.comment_cut = false;
    }

    fn feed_comment(&mut self, comment: &[u8]) {
        if !self.comment_cut {
            let mut sink = Truncating {
                buf: &mut self.scratch,
                truncated: &mut self.comment_cut,
            };
            self.utf8.feed(comment, &mut sink);
        }
    }

    fn end_comment(&mut self) {
        if !self.comment_cut {
            let mut sink = Truncating {
                buf: &mut self.scratch,
                truncated: &mut self.comment_cut,
            };
            self.utf8.finish(&mut sink);
        }
    }

    /// Starts the value of `field` (once per field line, also when the value is empty).
    fn begin_value(&mut self, field: Field) {
        self.utf8 = Utf8::new();
        match field {
            // > If the field name is "event": Set the event type buffer to field value.
            Field::Event => {
                self.event_type.clear();
                self.type_set = true;
            }
            // > If the field name is "data": Append the field value to the data buffer, then
            // > append a single U+000A LINE FEED (LF) character to the data buffer.
            //
            // Dispatch removes the last LF again, so the LF is written before each value but
            // the first: the buffer always holds exactly what dispatch will deliver, and a cut
            // at `DATA` bytes is a prefix of the full data.
            Field::Data => {
                if self.has_data {
                    self.data_sink().put("\n");
                }
                self.has_data = true;
            }
            Field::Id => {
                self.scratch.clear();
                self.id_nul = false;
            }
            Field::Retry => self.retry_value = None,
        }
    }

    /// Takes in a piece of `field`'s value (no line ends in it). `Ok(false)`: ignore the field.
    fn feed_value(&mut self, field: Field, value: &[u8]) -> Result<bool, Overflow> {
        match field {
            Field::Event => {
                if !self.utf8.feed(value, &mut Bounded(&mut self.event_type)) {
                    return Err(Overflow);
                }
            }
            Field::Data => {
                if !self.truncated {
                    let mut sink = Truncating {
                        buf: &mut self.data,
                        truncated: &mut self.truncated,
                    };
                    self.utf8.feed(value, &mut sink);
                }
            }
            Field::Id => {
                // Decoded (and bounded) even when it holds a NUL, so that whether an over-long
                // value is an error does not depend on where the input was split.
                if !self.utf8.feed(value, &mut Bounded(&mut self.scratch)) {
                    return Err(Overflow);
                }
                self.id_nul = self.id_nul || memchr(0, value).is_some();
            }
            Field::Retry => {
                for &b in value {
                    if !b.is_ascii_digit() {
                        return Ok(false);
                    }
                    let ms = self.retry_value.unwrap_or(0);
                    self.retry_value =
                        Some(ms.saturating_mul(10).saturating_add(u64::from(b - b'0')));
                }
            }
        }
        Ok(true)
    }

    /// The line holding `field` ended: "process the field".
    fn end_value<'i>(&mut self, field: Field) -> Result<Option<Item<'i>>, Overflow> {
        match field {
            Field::Event => {
                if !self.utf8.finish(&mut Bounded(&mut self.event_type)) {
                    return Err(Overflow);
                }
            }
            Field::Data => {
                if !self.truncated {
                    let mut sink = Truncating {
                        buf: &mut self.data,
                        truncated: &mut self.truncated,
                    };
                    self.utf8.finish(&mut sink);
                }
            }
            Field::Id => {
                if !self.utf8.finish(&mut Bounded(&mut self.scratch)) {
                    return Err(Overflow);
                }
                // > If the field name is "id": If the field value does not contain U+0000
                // > NULL, then set the last event ID buffer to the field value. Otherwise,
                // > ignore the field.
                if !self.id_nul {
                    let slot = usize::from(self.writable_id_slot());
                    if let Some(id) = self.ids.get_mut(slot) {
                        id.copy_from(&self.scratch);
                    }
                }
            }
            Field::Retry => {
                // > If the field name is "retry": If the field value consists of only ASCII
                // > digits, then interpret the field value as an integer in base ten, and set
                // > the event stream's reconnection time to that integer. Otherwise, ignore
                // > the field.
                //
                // An empty value is ignored too: it is no integer. Too many digits saturate.
                if let Some(ms) = self.retry_value {
                    let retry = Duration::from_millis(ms);
                    self.retry = Some(retry);
                    return Ok(Some(Item::Retry(retry)));
                }
            }
        }
        Ok(None)
    }

    /// A blank line: dispatch the event, or report that it was dropped.
    fn blank_line<'i>(&mut self) -> Option<Item<'i>> {
        if self.discarding {
            // The event cannot be delivered, but dispatch step 1 (below) is not about the event:
            // the ids it carried stand.
            self.discarding = false;
            self.last = self.buf;
            self.clear_event();
            return Some(Item::Dropped);
        }
        // > 1. Set the last event ID string of the event source to the value of the last event
        // > ID buffer. The buffer does not get reset, so the last event ID string of the event
        // > source remains set to this value until the next time it is set by the server.
        self.last = self.buf;
        // > 2. If the data buffer is an empty string, set the data buffer and the event type
        // > buffer to the empty string and return.
        if !self.has_data {
            self.clear_event();
            return None;
        }
        // > 3. If the data buffer's last character is a U+000A LINE FEED (LF) character, then
        // > remove the last character from the data buffer.
        // (Never written: see `begin_value`.)
        // > 7. Set the data buffer and the event type buffer to the empty string.
        // (On the next push, once the caller has seen the event.)
        self.dispatched = true;
        Some(Item::Event(None))
    }

    /// > 5. Initialize event's type attribute to "message", its data attribute to data, […]
    /// > and its lastEventId attribute to the last event ID string of the event source.
    /// > 6. If the event type buffer has a value other than the empty string, change the type
    /// > of the newly created event to equal the value of the event type buffer.
    fn event<'p>(&'p self, lent: Option<&'p str>) -> Event<'p> {
        let event_type = match self.event_type.as_str() {
            name if self.type_set && !name.is_empty() => name,
            _ => DEFAULT_TYPE,
        };
        Event {
            event_type,
            data: lent.unwrap_or(self.data.as_str()),
            last_event_id: self.id_slot(self.last).as_str(),
            truncated: self.truncated,
        }
    }

    /// A value did not fit: the event is dropped at its blank line. Its other fields are still
    /// processed (an `id:` counts; data is bounded and thrown away at the blank line).
    fn drop_event(&mut self) {
        self.utf8 = Utf8::new();
        self.discarding = true;
    }

    fn clear_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.truncated = false;
        // The bytes stay: see `type_set`.
        self.type_set = false;
    }

    fn id_slot(&self, slot: u8) -> &Text<LINE> {
        let [a, b] = &self.ids;
        if slot == 0 { a } else { b }
    }

    fn id_slot_mut(&mut self, slot: u8) -> &mut Text<LINE> {
        let [a, b] = &mut self.ids;
        if slot == 0 { a } else { b }
    }

    /// The slot of the last event ID buffer, moved off the last event ID string's slot first
    /// if they share one (the string must keep its value until the next dispatch).
    fn writable_id_slot(&mut self) -> u8 {
        if self.buf == self.last {
            self.buf = self.last ^ 1;
        }
        self.buf
    }

    /// The last event ID buffer, ready to be overwritten (see [`Parser::writable_id_slot`]).
    fn id_buffer_mut(&mut self) -> &mut Text<LINE> {
        let slot = self.writable_id_slot();
        self.id_slot_mut(slot)
    }

    fn data_sink(&mut self) -> Truncating<'_, DATA> {
        Truncating {
            buf: &mut self.data,
            truncated: &mut self.truncated,
        }
    }
}

/// The state after a line end byte.
///
/// > a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE FEED
/// > (LF) character not preceded by a U+000D CARRIAGE RETURN (CR) character, and a single
/// > U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF) character
/// > being the ways in which a line can end.
fn line_end(byte: u8) -> State {
    if byte == b'\r' {
        State::AfterCr
    } else {
        State::LineStart
    }
}
