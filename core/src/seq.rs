//! The event sequence index: resume decisions (server), arrival classification (client) and a
//! small replay log (device-side server).
//!
//! Every `message` event carries its log index (`idx`) as its SSE `id:`. Indices are dense and
//! strictly increasing from 0 within one *epoch* (one log's lifetime, see PROTOCOL.md §1).
//!
//! # Invariants
//! - **Server**, [`ResumeRequest::decide`]: a client asking to start at `s` gets either a replay
//!   from exactly `s` (when `first <= s <= end`, `s == end` meaning "only live messages") or a
//!   [`Resume::Reset`] that names where the replay starts instead. The server never silently
//!   starts anywhere else: every skipped or re-sent index is announced by a `reset` event.
//! - **Client**, [`Tracker`]: the indices it accepts ([`Arrival::Next`]) are exactly
//!   `k, k+1, k+2, …` in order, where `k` is 0, the [`Tracker::with_resume`] point, or the first
//!   index after a [`Tracker::handle_reset`]. A duplicate is never accepted; a gap is never
//!   accepted (the caller reconnects or fetches the missing range, then the same index is
//!   accepted). [`Tracker::resume_from`] is always the last accepted index + 1.
//!   A new epoch starts over at 0.
//! - **Log**, [`EventLog`]: holds the encoded frames of indices `first..end` (at most `N` of
//!   them, each at most `FRAME` bytes), densely. Pushing must continue at `end`; a full log
//!   evicts its oldest frame. Both bounds are in the type: RAM use is `N * FRAME` bytes plus
//!   a few words, whatever the peers do.
//!
//! # Event ids are epoch-qualified
//! A message's SSE `id:` is `<epoch>-<idx>` ([`EventRef`]), so an id names one message of one
//! log's history. A client that resumes with an id (or an `epoch=`) of another epoch gets
//! [`Resume::Reset`] instead of a replay that would splice two histories: a standard
//! `EventSource` only ever sends `Last-Event-ID` back, and without the epoch in it a restarted
//! server could not tell `3` of the old log from `3` of the new one. A bare `<idx>` is still
//! accepted (clients that only know `from=`, such as sketch's web UI).
//!
//! Parsing an index ([`parse_index`]) takes ASCII digits only: `Last-Event-ID` comes from the
//! peer, and anything but a plain non-negative `u64` is a typed error (HTTP 400). `from=` is
//! read as sketch's server read it ([`parse_from`]).

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

// ---------------------------------------------------------------------------------------------
// Parsing indices from the peer

/// Why a `from=` value or `Last-Event-ID` header is not an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResumeError {
    /// Empty, or not made of ASCII digits only (signs, spaces and decimals are refused).
    NotANumber,
    /// A `-` followed by digits.
    Negative,
    /// Digits only, but larger than `u64::MAX`.
    TooLarge,
    /// The epoch part of an `<epoch>-<idx>` id (or `epoch=`) is not 1 to [`MAX_EPOCH_LEN`]
    /// ASCII letters, digits or `_`.
    InvalidEpoch,
    /// `Last-Event-ID` and `epoch=` name different epochs.
    ConflictingEpochs,
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResumeError::NotANumber => "index is not a non-negative integer",
            ResumeError::Negative => "index is negative",
            ResumeError::TooLarge => "index is too large",
            ResumeError::InvalidEpoch => "epoch is not 1 to 64 letters, digits or '_'",
            ResumeError::ConflictingEpochs => "Last-Event-ID and epoch= name different epochs",
        })
    }
}

impl core::error::Error for ResumeError {}

/// Parses a message index: one or more ASCII digits (leading zeros allowed), at most `u64::MAX`.
///
/// # Errors
/// [`ResumeError::Negative`] for `-` followed by digits, [`ResumeError::TooLarge`] beyond
/// `u64::MAX`, [`ResumeError::NotANumber`] for anything else (including `""`, `+1`, ` 1`).
pub fn parse_index(s: &str) -> Result<Seq, ResumeError> {
    parse_index_bytes(s.as_bytes())
}

fn parse_index_bytes(bytes: &[u8]) -> Result<Seq, ResumeError> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ResumeError::NotANumber);
    }
    if negative {
        return Err(ResumeError::Negative);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(ResumeError::TooLarge)?;
    }
    Ok(Seq(n))
}

/// Parses `from=` as sketch's server did (Go's `strconv.Atoi`, then clamped at 0): empty is 0,
/// an optional `+` or `-` sign (or the space a form-decoded `+` becomes), then ASCII digits; a
/// negative value is 0.
///
/// # Errors
/// [`ResumeError::NotANumber`] for anything else (`abc`, `1.5`, ` 1`), [`ResumeError::TooLarge`]
/// beyond `u64::MAX`.
pub fn parse_from(s: &str) -> Result<Seq, ResumeError> {
    let (negative, digits) = match s.as_bytes().split_first() {
        None => return Ok(Seq::ZERO),
        Some((b'-', _)) => (true, &s[1..]),
        // A `+` in a query string is a space once form-decoded (`from=+5` reads as ` 5`).
        Some((b'+' | b' ', _)) => (false, &s[1..]),
        Some(_) => (false, s),
    };
    match parse_index(digits) {
        Ok(_) if negative => Ok(Seq::ZERO),
        // A negative number too large for Atoi is still a negative number: 0.
        Err(ResumeError::TooLarge) if negative => Ok(Seq::ZERO),
        Err(ResumeError::Negative) => Err(ResumeError::NotANumber),
        other => other,
    }
}

/// Longest epoch accepted in an id or `epoch=` (the server's epochs are 32 hex digits).
pub const MAX_EPOCH_LEN: usize = 64;

/// Length of the epochs our server makes: 128 random bits as 32 hex digits (PROTOCOL.md §1).
pub const SERVER_EPOCH_LEN: usize = 32;

/// The longest `id:` value our server sends: `<epoch>-<idx>` with a [`SERVER_EPOCH_LEN`] epoch
/// and a 20-digit index (`u64::MAX`), 53 bytes. A parser whose line bound is shorter drops
/// such messages ([`crate::parse::ParseError::LineTooLong`]); [`crate::agent::follow::Follow`] refuses
/// to compile with one.
pub const MAX_SERVER_ID_LEN: usize = SERVER_EPOCH_LEN + 1 + 20;

/// Whether `s` can be an epoch: 1 to [`MAX_EPOCH_LEN`] ASCII letters, digits or `_`. (No `-`:
/// it separates the epoch from the index in an id.)
#[must_use]
pub fn is_epoch(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_EPOCH_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A message's SSE id: `<epoch>-<idx>`, or a bare `<idx>` (no epoch).
///
/// `Display` writes the id as the server sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventRef<'a> {
    /// The log's epoch, when the id names one.
    pub epoch: Option<&'a str>,
    /// The message's index.
    pub idx: Seq,
}

impl<'a> EventRef<'a> {
    /// Parses an id: `<epoch>-<idx>` or `<idx>`.
    ///
    /// # Errors
    /// The index part as [`parse_index`]; [`ResumeError::InvalidEpoch`] for an epoch part that
    /// is not [`is_epoch`].
    pub fn parse(s: &'a str) -> Result<Self, ResumeError> {
        match split_id(s) {
            (None, idx) => parse_index(idx).map(|idx| EventRef { epoch: None, idx }),
            (Some(epoch), idx) => {
                if !is_epoch(epoch) {
                    return Err(ResumeError::InvalidEpoch);
                }
                Ok(EventRef {
                    epoch: Some(epoch),
                    idx: parse_index(idx)?,
                })
            }
        }
    }
}

/// `<epoch>-<digits>` → (`Some(epoch)`, digits); anything else → (`None`, the whole id). A
/// leading `-` alone is a sign, not a separator (`-5` is a negative index).
fn split_id(s: &str) -> (Option<&str>, &str) {
    // By hand: `str::rsplit_once` pulls `memrchr` (~200 bytes) into every firmware.
    let b = s.as_bytes();
    let mut i = b.len();
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i > 1 && b[i - 1] == b'-' {
        (s.get(..i - 1), s.get(i..).unwrap_or(""))
    } else {
        (None, s)
    }
}

/// The index a message id names, for clients: the digits of `<epoch>-<idx>` or of a bare
/// `<idx>`. The epoch part is not checked (it is the server's; [`EventRef::parse`] checks it),
/// which keeps this small enough for every firmware.
///
/// # Errors
/// As [`parse_index`] for the index part.
pub fn id_index(s: &str) -> Result<Seq, ResumeError> {
    // Not `split_id`: one scan and no epoch slice keep it small enough for every firmware.
    let b = s.as_bytes();
    let mut i = b.len();
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    let tail = if i > 1 && b[i - 1] == b'-' {
        &b[i..]
    } else {
        b
    };
    parse_index_bytes(tail)
}

impl fmt::Display for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.epoch {
            Some(epoch) => write!(f, "{epoch}-{}", self.idx),
            None => write!(f, "{}", self.idx),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server side: deciding a resume

/// The indices a log can replay: `first..end` (`end` is the log's message count, the index the
/// next message will get). `first == end` means nothing is retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    /// Oldest index still in the log.
    pub first: Seq,
    /// One past the newest index (= message count).
    pub end: Seq,
}

impl Window {
    /// Whether `seq` is in `first..end`.
    #[must_use]
    pub fn contains(&self, seq: Seq) -> bool {
        self.first <= seq && seq < self.end
    }
}

/// What a client asked for: `?from=N`, `Last-Event-ID: [E-]N` and `?epoch=E`, already parsed
/// ([`ResumeRequest::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResumeRequest<'a> {
    /// The `from` query parameter: the first index wanted.
    pub from: Option<Seq>,
    /// The `Last-Event-ID` header: the last index the client has.
    pub last_event_id: Option<Seq>,
    /// The epoch the client's copy belongs to (from its `Last-Event-ID` or `epoch=`), if it
    /// said. Another epoch than the log's always means [`Resume::Reset`].
    pub epoch: Option<&'a str>,
}

/// How the server answers a [`ResumeRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resume {
    /// Replay `from..end`, then go live. No `reset` event.
    Replay {
        /// The first index to send.
        from: Seq,
    },
    /// The client's resume point is not in this log: send a `reset` event (the client drops
    /// its copy), then replay from `from`.
    Reset {
        /// The first index to send: the window's `first`.
        from: Seq,
    },
    /// The session has ended and the client already has every message: answer `204 No
    /// Content`, which tells an `EventSource` to stop reconnecting (WHATWG HTML §9.2.3: any
    /// status other than 200 fails the connection for good). Only from
    /// [`ResumeRequest::decide_ended`].
    Ended,
}

impl<'a> ResumeRequest<'a> {
    /// Reads a request's resume parts, each as sent (`None`: absent): `from` ([`parse_from`]),
    /// `epoch` (empty is absent) and `Last-Event-ID` (an [`EventRef`]; empty is absent).
    ///
    /// # Errors
    /// A part that does not parse, or [`ResumeError::ConflictingEpochs`] when the id and
    /// `epoch` name different epochs.
    pub fn parse(
        from: Option<&str>,
        epoch: Option<&'a str>,
        last_event_id: Option<&'a str>,
    ) -> Result<Self, ResumeError> {
        let from = from.map(parse_from).transpose()?;
        let epoch = match epoch.filter(|e| !e.is_empty()) {
            Some(e) if !is_epoch(e) => return Err(ResumeError::InvalidEpoch),
            e => e,
        };
        let last = last_event_id
            .filter(|id| !id.is_empty())
            .map(EventRef::parse)
            .transpose()?;
        let epoch = match (epoch, last.and_then(|l| l.epoch)) {
            (Some(a), Some(b)) if a != b => return Err(ResumeError::ConflictingEpochs),
            (a, b) => a.or(b),
        };
        Ok(ResumeRequest {
            from,
            last_event_id: last.map(|l| l.idx),
            epoch,
        })
    }

    /// The first index the client wants: the larger of `from` and `last_event_id + 1`, or 0 if
    /// neither was given.
    #[must_use]
    pub fn start(&self) -> Seq {
        let after_last = self.last_event_id.map(Seq::next);
        match (self.from, after_last) {
            (Some(a), Some(b)) => a.max(b),
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => Seq::ZERO,
        }
    }

    /// Decides the resume against the log's window and epoch: [`Resume::Replay`] when the
    /// client named no other epoch and `first <= start <= end`, otherwise [`Resume::Reset`]
    /// from `first` (the client's copy is of another history; or the start is beyond the end,
    /// so the log was lost or replaced; or before `first`, so retention dropped it).
    #[must_use]
    pub fn decide(&self, window: Window, epoch: &str) -> Resume {
        let start = self.start();
        let same_history = self.epoch.is_none_or(|e| e == epoch);
        if same_history && window.first <= start && start <= window.end {
            Resume::Replay { from: start }
        } else {
            Resume::Reset { from: window.first }
        }
    }
}

impl ResumeRequest<'_> {
    /// [`ResumeRequest::decide`] for a log whose session has ended: a client that would only
    /// get live messages (its resume point is the end) gets [`Resume::Ended`], since none will
    /// come; any other resume replays as usual (and the stream ends with `session_ended`).
    #[must_use]
    pub fn decide_ended(&self, window: Window, epoch: &str) -> Resume {
        match self.decide(window, epoch) {
            Resume::Replay { from } if from >= window.end => Resume::Ended,
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client side: classifying arrivals

/// What [`Tracker::handle_epoch`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EpochChange {
    /// The first epoch this tracker has seen; the resume point is kept.
    First,
    /// The same epoch as before.
    Same,
    /// A different epoch: the server's log was replaced. The tracker restarted at 0; the
    /// caller drops its copy of the messages.
    New,
}

/// What [`Tracker::handle_index`] decided about one message index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Arrival {
    /// The expected index: accepted; deliver the message.
    Next,
    /// Already accepted before: drop the message.
    Duplicate,
    /// Indices `missing_from..missing_to` were skipped. The message is **not** accepted:
    /// reconnect (resuming at [`Tracker::resume_from`]) or fetch the range, then deliver in order.
    Gap {
        /// First missing index (= [`Tracker::resume_from`]).
        missing_from: Seq,
        /// One past the last missing index (= the index that arrived).
        missing_to: Seq,
    },
}

/// What index the tracker accepts next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Expect {
    /// Exactly this index.
    At(u64),
    /// After a `reset`: whatever the server replays first.
    Any,
    /// `u64::MAX` was accepted; nothing can follow.
    Exhausted,
}

/// The client's view of the sequence: dedups, detects gaps, knows where to resume.
///
/// The epoch is stored as its 64-bit FNV-1a hash, so the tracker is `Copy`, fixed-size and
/// independent of how long the server's epoch string is. Two different epochs colliding is a
/// 2⁻⁶⁴ event, and the server's epochs are random ids, not adversarial input aimed at a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tracker {
    expect: Expect,
    received: u64,
    epoch: Option<u64>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

/// 64-bit FNV-1a (Fowler–Noll–Vo) of `bytes`.
const fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(PRIME);
        i += 1;
    }
    hash
}

impl Tracker {
    /// A tracker that expects index 0 first.
    #[must_use]
    pub const fn new() -> Self {
        Tracker {
            expect: Expect::At(0),
            received: 0,
            epoch: None,
        }
    }

    /// A tracker resuming at `next` (e.g. restored from storage); index `next` is accepted next.
    #[must_use]
    pub const fn with_resume(next: Seq) -> Self {
        Tracker {
            expect: Expect::At(next.0),
            received: 0,
            epoch: None,
        }
    }

    /// Records the epoch from a `state` (or `reset`) event.
    ///
    /// The first epoch seen is adopted and the resume point kept ([`EpochChange::First`]). A
    /// different epoch than before restarts the tracker at 0 ([`EpochChange::New`]).
    pub fn handle_epoch(&mut self, epoch: &str) -> EpochChange {
        let hash = fnv1a64(epoch.as_bytes());
        match self.epoch {
            None => {
                self.epoch = Some(hash);
                EpochChange::First
            }
            Some(h) if h == hash => EpochChange::Same,
            Some(_) => {
                *self = Tracker {
                    epoch: Some(hash),
                    ..Tracker::new()
                };
                EpochChange::New
            }
        }
    }

    /// Whether `epoch` is the one this tracker follows (the last one [`Tracker::handle_epoch`]
    /// saw).
    #[must_use]
    pub fn follows_epoch(&self, epoch: &str) -> bool {
        self.epoch == Some(fnv1a64(epoch.as_bytes()))
    }

    /// The server sent `reset`: the client drops its copy, and the tracker accepts whatever
    /// index the server replays first (its window's first index) and continues from there.
    /// Until then [`Tracker::resume_from`] is 0. The epoch is kept.
    pub fn handle_reset(&mut self) {
        self.expect = Expect::Any;
        self.received = 0;
    }

    /// Classifies the index of an arriving message. Only [`Arrival::Next`] changes the tracker.
    pub fn handle_index(&mut self, idx: Seq) -> Arrival {
        let expected = match self.expect {
            Expect::Any => idx.0,
            Expect::At(n) => n,
            Expect::Exhausted => return Arrival::Duplicate,
        };
        if idx.0 < expected {
            Arrival::Duplicate
        } else if idx.0 > expected {
            Arrival::Gap {
                missing_from: Seq(expected),
                missing_to: idx,
            }
        } else {
            self.expect = match idx.0.checked_add(1) {
                Some(n) => Expect::At(n),
                None => Expect::Exhausted,
            };
            self.received += 1;
            Arrival::Next
        }
    }

    /// The index to resume from on reconnect (`from=` and `Last-Event-ID` = this − 1):
    /// the last accepted index + 1. Saturates at `u64::MAX`.
    #[must_use]
    pub fn resume_from(&self) -> Seq {
        match self.expect {
            Expect::At(n) => Seq(n),
            Expect::Any => Seq::ZERO,
            Expect::Exhausted => Seq(u64::MAX),
        }
    }

    /// Messages accepted since the tracker was created or last started over (reset or new
    /// epoch).
    #[must_use]
    pub fn n_received(&self) -> u64 {
        self.received
    }
}

// ---------------------------------------------------------------------------------------------
// Device side: a replay log of encoded frames

/// Why [`EventLog::push`] refused a frame. The log is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PushError {
    /// The encoded frame is longer than the log's `FRAME` bound.
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The bound (`FRAME`).
        max: usize,
    },
    /// The index is not the log's `end`: logs are dense and strictly increasing.
    OutOfOrder {
        /// The index the log expects (its `end`).
        expected: Seq,
    },
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the log's {max}-byte bound")
            }
            PushError::OutOfOrder { expected } => {
                write!(f, "log index out of order: expected {expected}")
            }
        }
    }
}

impl core::error::Error for PushError {}

/// [`EventLog::replay_from`] was asked for an index outside its window: the caller should have
/// used [`ResumeRequest::decide`] (which answers [`Resume::Reset`] for these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OutsideWindow {
    /// The log's window at the time of the call.
    pub window: Window,
}

impl fmt::Display for OutsideWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index outside the log window {}..{}",
            self.window.first, self.window.end
        )
    }
}

impl core::error::Error for OutsideWindow {}

/// A fixed-capacity ring of the `N` most recent encoded frames, keyed by [`Seq`], for a
/// device-side server to replay from on resume.
///
/// `N` bounds the retention and `FRAME` the size of one encoded frame; the log takes
/// `N * FRAME` bytes plus a few words and never allocates. Because indices are dense, the
/// frame of index `s` lives in slot `s % N`.
///
/// ```
/// use sse_core::seq::{EventLog, ResumeRequest, Resume, Seq};
/// let mut log: EventLog<2, 32> = EventLog::new();
/// for i in 0..3 {
///     log.push(Seq(i), b"data: x\n\n").expect("in order, and it fits");
/// }
/// // Index 0 was evicted: a client asking for it is told to reset and gets 1 and 2.
/// let req = ResumeRequest::parse(Some("0"), None, None).expect("a valid request");
/// assert_eq!(req.decide(log.window(), "epoch1"), Resume::Reset { from: Seq(1) });
/// let mut replayed = log.replay_from(Seq(1))?.map(|(s, _)| s.0);
/// assert_eq!([replayed.next(), replayed.next(), replayed.next()], [Some(1), Some(2), None]);
/// # Ok::<(), sse_core::seq::OutsideWindow>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventLog<const N: usize, const FRAME: usize> {
    slots: [heapless::Vec<u8, FRAME>; N],
    first: u64,
    end: u64,
}

impl<const N: usize, const FRAME: usize> Default for EventLog<N, FRAME> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const FRAME: usize> EventLog<N, FRAME> {
    /// An empty log whose first index will be 0.
    #[must_use]
    pub const fn new() -> Self {
        Self::starting_at(Seq::ZERO)
    }

    /// An empty log whose first index will be `next` (a log continuing an earlier numbering).
    /// `N` must be at least 1 (checked at compile time).
    #[must_use]
    pub const fn starting_at(next: Seq) -> Self {
        const { assert!(N > 0, "EventLog needs room for at least one frame") };
        EventLog {
            slots: [const { heapless::Vec::new() }; N],
            first: next.0,
            end: next.0,
        }
    }

    /// Appends the encoded frame of index `seq`, evicting the oldest frame if the log is full.
    ///
    /// # Errors
    /// [`PushError::OutOfOrder`] unless `seq` is the window's `end`;
    /// [`PushError::FrameTooLarge`] if `frame` is longer than `FRAME`. On error the log is
    /// unchanged.
    pub fn push(&mut self, seq: Seq, frame: &[u8]) -> Result<(), PushError> {
        if seq.0 != self.end || self.end == u64::MAX {
            return Err(PushError::OutOfOrder {
                expected: Seq(self.end),
            });
        }
        if frame.len() > FRAME {
            return Err(PushError::FrameTooLarge {
                len: frame.len(),
                max: FRAME,
            });
        }
        let slot = &mut self.slots[Self::slot(seq.0)];
        slot.clear();
        // Cannot fail: the length was checked against the slot's capacity above.
        slot.extend_from_slice(frame)
            .map_err(|_| PushError::FrameTooLarge {
                len: frame.len(),
                max: FRAME,
            })?;
        self.end += 1;
        if self.end - self.first > N as u64 {
            self.first += 1;
        }
        Ok(())
    }

    /// The indices currently held: `first..end`.
    #[must_use]
    pub fn window(&self) -> Window {
        Window {
            first: Seq(self.first),
            end: Seq(self.end),
        }
    }

    /// Number of frames held.
    #[must_use]
    pub fn len(&self) -> usize {
        // At most N, so the cast is lossless.
        (self.end - self.first) as usize
    }

    /// Whether the log holds no frame.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end == self.first
    }

    /// The frames of indices `from..end`, oldest first. `from == end` gives nothing (go live).
    ///
    /// # Errors
    /// [`OutsideWindow`] if `from` is before `first` (evicted) or after `end`.
    pub fn replay_from(
        &self,
        from: Seq,
    ) -> Result<impl Iterator<Item = (Seq, &[u8])> + '_, OutsideWindow> {
        if from.0 < self.first || from.0 > self.end {
            return Err(OutsideWindow {
                window: self.window(),
            });
        }
        Ok((from.0..self.end).map(move |s| (Seq(s), self.slots[Self::slot(s)].as_slice())))
    }

    fn slot(seq: u64) -> usize {
        // `seq % N < N`, so the cast is lossless.
        (seq % N as u64) as usize
    }
}

#[cfg(test)]
mod tests;
