//! The Durable Streams protocol's decisions (durable-streams/durable-streams, `PROTOCOL.md`):
//! offsets, where a read starts and whether it is up to date, the live cursor, idempotent
//! producer fencing, and the SSE mode's `data` and `control` events.
//!
//! Everything here is arithmetic on values the shell passes in; the shell stores bytes and
//! moves them. Nothing allocates: offsets and control events are written into fixed buffers
//! whose sizes are the constants below.
//!
//! # Offsets (`PROTOCOL.md` §8)
//! An offset is `SSSSSSSSSSSSSSSS_PPPPPPPPPPPPPPPP`: two 16-digit zero-padded decimal numbers,
//! a segment (0 for now: room for a log that is compacted or re-based later) and a position
//! (bytes, or messages in JSON mode, since the stream's start). Fixed width makes the
//! protocol's lexicographic order the numeric order of `(segment, position)`, and the format
//! contains none of `, & = ? /`. The sentinels `-1` (the beginning) and `now` (the tail) are
//! requests only; [`Offset`] can never format as either.
//!
//! # Reading a stream
//! [`follow`] is the client side of the SSE mode: a session that is fed the bytes of
//! `live=sse` responses and says what data to hand out, where to resume, and when the stream
//! is closed. It treats offsets as the protocol says clients must: opaque text.

use crate::encode::BufferTooSmall;
use crate::event::{EventName, Frame};
use core::fmt;

pub mod follow;

/// Digits in each half of an offset.
pub const OFFSET_DIGITS: usize = 16;
/// Length of a formatted offset: two halves and the `_` between them.
pub const OFFSET_LEN: usize = 2 * OFFSET_DIGITS + 1;
/// The largest value of either half (16 decimal digits).
pub const OFFSET_PART_MAX: u64 = 9_999_999_999_999_999;

/// A position in a stream. Ordered as the protocol orders offsets: lexicographically by their
/// text, which for this fixed-width format is `(segment, position)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Offset {
    segment: u64,
    position: u64,
}

/// An offset could not be read or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum OffsetError {
    /// Not `-1`, `now`, or 16 digits, `_`, 16 digits.
    Malformed,
    /// A half would need more than 16 digits.
    TooLarge,
}

impl fmt::Display for OffsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffsetError::Malformed => {
                "malformed offset: expected -1, now, or an offset this server returned"
            }
            OffsetError::TooLarge => "offset out of range",
        })
    }
}

impl core::error::Error for OffsetError {}

impl Offset {
    /// The beginning of every stream (what `-1` means).
    pub const ZERO: Offset = Offset {
        segment: 0,
        position: 0,
    };

    /// The offset `(segment, position)`.
    ///
    /// # Errors
    /// [`OffsetError::TooLarge`] if either exceeds [`OFFSET_PART_MAX`].
    pub const fn new(segment: u64, position: u64) -> Result<Offset, OffsetError> {
        if segment > OFFSET_PART_MAX || position > OFFSET_PART_MAX {
            return Err(OffsetError::TooLarge);
        }
        Ok(Offset { segment, position })
    }

    /// The position in segment 0.
    ///
    /// # Errors
    /// [`OffsetError::TooLarge`] past [`OFFSET_PART_MAX`].
    pub const fn at(position: u64) -> Result<Offset, OffsetError> {
        Offset::new(0, position)
    }

    /// The segment.
    #[must_use]
    pub const fn segment(self) -> u64 {
        self.segment
    }

    /// The position within the segment.
    #[must_use]
    pub const fn position(self) -> u64 {
        self.position
    }

    /// `n` positions further on, in the same segment.
    ///
    /// # Errors
    /// [`OffsetError::TooLarge`] past [`OFFSET_PART_MAX`].
    pub const fn advance(self, n: u64) -> Result<Offset, OffsetError> {
        match self.position.checked_add(n) {
            Some(p) => Offset::new(self.segment, p),
            None => Err(OffsetError::TooLarge),
        }
    }

    /// Reads an offset this server formatted (not a sentinel: see [`Start::parse`]).
    ///
    /// # Errors
    /// [`OffsetError::Malformed`] for anything but 16 ASCII digits, `_`, 16 ASCII digits.
    pub fn parse(s: &str) -> Result<Offset, OffsetError> {
        let b = s.as_bytes();
        if b.len() != OFFSET_LEN || b[OFFSET_DIGITS] != b'_' {
            return Err(OffsetError::Malformed);
        }
        let half = |digits: &[u8]| -> Result<u64, OffsetError> {
            digits.iter().try_fold(0u64, |acc, &d| {
                if d.is_ascii_digit() {
                    // 16 digits fit a u64 (< 10^16 < 2^64), so this cannot overflow.
                    Ok(acc * 10 + u64::from(d - b'0'))
                } else {
                    Err(OffsetError::Malformed)
                }
            })
        };
        Ok(Offset {
            segment: half(&b[..OFFSET_DIGITS])?,
            position: half(&b[OFFSET_DIGITS + 1..])?,
        })
    }

    /// Writes the offset into `buf` and returns it as text.
    pub fn format(self, buf: &mut [u8; OFFSET_LEN]) -> &str {
        fn put(mut n: u64, out: &mut [u8]) {
            for slot in out.iter_mut().rev() {
                // `n % 10 < 10`: the cast cannot truncate.
                *slot = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        put(self.segment, &mut buf[..OFFSET_DIGITS]);
        buf[OFFSET_DIGITS] = b'_';
        put(self.position, &mut buf[OFFSET_DIGITS + 1..]);
        // Only ASCII digits and `_` were written.
        core::str::from_utf8(buf).unwrap_or("")
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; OFFSET_LEN];
        f.write_str(self.format(&mut buf))
    }
}

/// Where a read asks to start (the `offset` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Start {
    /// `-1` or no `offset`: the stream's beginning.
    Beginning,
    /// `now`: the tail, skipping what exists.
    Now,
    /// An offset the server returned earlier.
    At(Offset),
}

impl Start {
    /// Reads the `offset` parameter (`None`: absent).
    ///
    /// # Errors
    /// [`OffsetError::Malformed`] for anything but `-1`, `now` or a well-formed offset (an
    /// empty value included).
    pub fn parse(offset: Option<&str>) -> Result<Start, OffsetError> {
        match offset {
            None | Some("-1") => Ok(Start::Beginning),
            Some("now") => Ok(Start::Now),
            Some(s) => Offset::parse(s).map(Start::At),
        }
    }
}

/// A stream's end as the store reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tail {
    /// The offset after the last byte (message): where the next append goes.
    pub next: Offset,
    /// Whether the stream is closed (no appends ever again).
    pub closed: bool,
}

/// What a read does, decided from its [`Start`] and the stream's [`Tail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Read {
    /// Data exists from `from` on: send `from..tail` (or a chunk of it).
    Data {
        /// First offset to send.
        from: Offset,
    },
    /// The reader is at the tail of an open stream: a catch-up read answers empty and
    /// up to date; a live read waits for an append past `at`.
    UpToDate {
        /// The tail.
        at: Offset,
    },
    /// The reader is at the tail of a closed stream: end of stream, never wait.
    Closed {
        /// The final offset.
        at: Offset,
    },
}

/// A read could not be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ReadError {
    /// The offset is past the tail: not one this server returned for this stream.
    BeyondTail,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::BeyondTail => f.write_str("offset is beyond the stream's tail"),
        }
    }
}

impl core::error::Error for ReadError {}

impl Read {
    /// Where a read starting at `start` begins on a stream whose end is `tail`
    /// (`PROTOCOL.md` §5.6–5.8 and §8, sentinels).
    ///
    /// # Errors
    /// [`ReadError::BeyondTail`] for an offset after `tail.next`.
    pub fn decide(start: Start, tail: Tail) -> Result<Read, ReadError> {
        let from = match start {
            Start::Beginning => Offset::ZERO,
            Start::Now => tail.next,
            Start::At(o) => o,
        };
        if from > tail.next {
            return Err(ReadError::BeyondTail);
        }
        Ok(if from < tail.next {
            Read::Data { from }
        } else if tail.closed {
            Read::Closed { at: tail.next }
        } else {
            Read::UpToDate { at: tail.next }
        })
    }

    /// After sending data up to `sent` (exclusive), what the response says: up to date when
    /// `sent` is the tail, closed when moreover the stream is closed.
    #[must_use]
    pub fn after(sent: Offset, tail: Tail) -> Read {
        if sent < tail.next {
            Read::Data { from: sent }
        } else if tail.closed {
            Read::Closed { at: tail.next }
        } else {
            Read::UpToDate { at: tail.next }
        }
    }
}

/// The read mode (the `live` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Live {
    /// No `live`: catch-up read.
    CatchUp,
    /// `live=long-poll`.
    LongPoll,
    /// `live=sse`.
    Sse,
}

impl Live {
    /// Reads the `live` parameter (`None`: absent).
    ///
    /// # Errors
    /// `Err(())` for any other value.
    #[allow(clippy::result_unit_err)]
    pub fn parse(live: Option<&str>) -> Result<Live, ()> {
        match live {
            None => Ok(Live::CatchUp),
            Some("long-poll") => Ok(Live::LongPoll),
            Some("sse") => Ok(Live::Sse),
            Some(_) => Err(()),
        }
    }
}

/// Length of a cursor interval in seconds (`PROTOCOL.md` §10.1: 20 s).
pub const CURSOR_INTERVAL_SECS: u64 = 20;
/// Unix time of the cursor epoch, 2024-10-09T00:00:00Z (`PROTOCOL.md` §10.1).
pub const CURSOR_EPOCH_UNIX: u64 = 1_728_432_000;

/// The `Stream-Cursor` for a live response at Unix time `now_unix_secs`, given the `cursor`
/// the client echoed (`PROTOCOL.md` §10.1): the current interval number, or, when the client's
/// cursor is not behind it, a value strictly past the client's (by `jitter_secs`, which the
/// shell draws from 1..=3600, in whole intervals, at least one) so cursors never repeat.
#[must_use]
pub fn cursor(now_unix_secs: u64, client: Option<u64>, jitter_secs: u64) -> u64 {
    let current = now_unix_secs.saturating_sub(CURSOR_EPOCH_UNIX) / CURSOR_INTERVAL_SECS;
    match client {
        Some(c) if c >= current => c.saturating_add((jitter_secs / CURSOR_INTERVAL_SECS).max(1)),
        _ => current,
    }
}

/// What the server knows of one idempotent producer on one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProducerState {
    /// The producer's current epoch.
    pub epoch: u64,
    /// The highest sequence number accepted in that epoch.
    pub last_seq: u64,
}

/// The largest producer epoch or sequence number (2^53 − 1, for JavaScript).
pub const PRODUCER_MAX: u64 = (1 << 53) - 1;

/// What to do with an append carrying `Producer-Epoch`/`Producer-Seq` (`PROTOCOL.md` §5.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProducerCheck {
    /// New data: append it, then store `state` (200).
    Accept {
        /// The producer's state after the append.
        state: ProducerState,
    },
    /// Already appended (a retry): append nothing (204).
    Duplicate {
        /// The producer's state, unchanged.
        state: ProducerState,
    },
    /// A stale epoch: a zombie is fenced (403, `Producer-Epoch: current`).
    StaleEpoch {
        /// The server's epoch.
        current: u64,
    },
    /// A new epoch must start at sequence 0 (400).
    NewEpochNotAtZero,
    /// A sequence gap (409, `Producer-Expected-Seq`, `Producer-Received-Seq`).
    Gap {
        /// The next sequence number the server expects.
        expected: u64,
        /// What arrived.
        received: u64,
    },
}

impl ProducerCheck {
    /// Checks `(epoch, seq)` against what is known of the producer (`None`: never seen, or
    /// its state expired).
    #[must_use]
    pub fn decide(known: Option<ProducerState>, epoch: u64, seq: u64) -> ProducerCheck {
        let fresh = ProducerState {
            epoch,
            last_seq: seq,
        };
        let Some(state) = known else {
            return if seq == 0 {
                ProducerCheck::Accept { state: fresh }
            } else {
                ProducerCheck::Gap {
                    expected: 0,
                    received: seq,
                }
            };
        };
        if epoch < state.epoch {
            return ProducerCheck::StaleEpoch {
                current: state.epoch,
            };
        }
        if epoch > state.epoch {
            return if seq == 0 {
                ProducerCheck::Accept { state: fresh }
            } else {
                ProducerCheck::NewEpochNotAtZero
            };
        }
        if seq <= state.last_seq {
            return ProducerCheck::Duplicate { state };
        }
        let expected = state.last_seq.saturating_add(1);
        if seq == expected {
            ProducerCheck::Accept { state: fresh }
        } else {
            ProducerCheck::Gap {
                expected,
                received: seq,
            }
        }
    }
}

/// `event: data`: a batch of stream data.
pub const DATA: EventName<'static> = match EventName::new("data") {
    Ok(n) => n,
    Err(_) => panic!("a constant without CR, LF or NUL"),
};
/// `event: control`: offset, cursor, up-to-date and closed.
pub const CONTROL: EventName<'static> = match EventName::new("control") {
    Ok(n) => n,
    Err(_) => panic!("a constant without CR, LF or NUL"),
};

/// The longest control JSON: every field present, the cursor at `u64::MAX`.
pub const CONTROL_MAX: usize =
    r#"{"streamNextOffset":"","streamCursor":"","upToDate":true,"streamClosed":true}"#.len()
        + OFFSET_LEN
        + 20;

/// The `control` event's JSON (`PROTOCOL.md` §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Control {
    /// `streamNextOffset`: where the client resumes.
    pub next: Offset,
    /// `streamCursor` (omitted when `None`; the protocol allows that on a closed stream).
    pub cursor: Option<u64>,
    /// `upToDate: true` when the client has everything there is.
    pub up_to_date: bool,
    /// `streamClosed: true` when the stream is closed and everything was sent.
    pub closed: bool,
}

impl Control {
    /// Writes the JSON into `buf` and returns it.
    ///
    /// # Errors
    /// Never for a `buf` of [`CONTROL_MAX`] bytes; [`BufferTooSmall`] for a shorter one.
    pub fn write_json<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, BufferTooSmall> {
        let mut w = Writer { buf, len: 0 };
        let mut off = [0; OFFSET_LEN];
        w.put(b"{\"streamNextOffset\":\"");
        w.put(self.next.format(&mut off).as_bytes());
        w.put(b"\"");
        if let Some(c) = self.cursor {
            let mut digits = [0; crate::encode::U64_DIGITS];
            w.put(b",\"streamCursor\":\"");
            w.put(crate::encode::decimal(c, &mut digits));
            w.put(b"\"");
        }
        if self.up_to_date {
            w.put(b",\"upToDate\":true");
        }
        if self.closed {
            w.put(b",\"streamClosed\":true");
        }
        w.put(b"}");
        w.finish()
    }
}

/// Appends to a slice, remembering whether everything fitted.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }

    fn finish(self) -> Result<&'b str, BufferTooSmall> {
        let needed = self.len;
        match self.buf.get(..needed) {
            // Only ASCII was written.
            Some(b) => Ok(core::str::from_utf8(b).unwrap_or("")),
            None => Err(BufferTooSmall { needed }),
        }
    }
}

/// The exact length [`encode_event`] writes.
#[must_use]
pub fn event_len(name: EventName<'_>, data: &str) -> usize {
    let lines = crate::encode::DataLines::new(data);
    b"event: ".len()
        + name.as_str().len()
        + 1
        + lines.map(|l| b"data:".len() + l.len() + 1).sum::<usize>()
        + 1
}

/// Writes one event as the conformance suite reads it: `event: NAME`, then each line of
/// `data` as `data:LINE` (no space after the colon: the suite matches `data:` directly
/// followed by the payload, which every SSE parser reads the same), then a blank line. Line
/// breaks in `data` (CRLF, CR, LF) split lines exactly as [`Frame`]'s encoder splits them,
/// so a payload can never end an event or start a field.
///
/// # Errors
/// [`BufferTooSmall`] if `out` is shorter than [`event_len`]; nothing is written then.
pub fn encode_event(
    name: EventName<'_>,
    data: &str,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let needed = event_len(name, data);
    if out.len() < needed {
        return Err(BufferTooSmall { needed });
    }
    let mut w = Writer { buf: out, len: 0 };
    w.put(b"event: ");
    w.put(name.as_str().as_bytes());
    w.put(b"\n");
    for line in crate::encode::DataLines::new(data) {
        w.put(b"data:");
        w.put(line);
        w.put(b"\n");
    }
    w.put(b"\n");
    Ok(w.len)
}

/// The `data` event for a batch as a [`Frame`] for the general encoder, which writes
/// `data: ` with a space; [`encode_event`] is the compact form the Durable Streams server
/// sends.
#[must_use]
pub const fn data_frame(text: &str) -> Frame<'_> {
    Frame::new().event(DATA).data(text)
}

/// Whether a stream of this content type is sent as text in SSE mode (`text/*` or
/// `application/json`, case-insensitive, parameters ignored); otherwise base64.
#[must_use]
pub fn sse_is_text(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim_ascii();
    let b = essence.as_bytes();
    b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"text/")
        || essence.eq_ignore_ascii_case("application/json")
}

/// Whether the content type is JSON mode (`application/json`: messages, arrays flattened).
#[must_use]
pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim_ascii()
        .eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests;
