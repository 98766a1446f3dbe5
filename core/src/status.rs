//! The device status model: the fixed-capacity subset of the server's State JSON
//! (PROTOCOL.md §4) that a small device needs, read by a small JSON reader of its own.
//!
//! # Robustness rules
//! A device must keep working when the server grows, so parsing is lenient where that is
//! safe and strict nowhere else:
//! - Unknown fields are ignored, whatever their shape (nested objects and arrays included).
//! - Every field is optional: a missing field keeps its default (0, empty, `false`,
//!   [`AgentState::Unknown`]); `null` is treated as missing.
//! - Strings longer than their capacity are cut at a char boundary, not refused. JSON escapes
//!   (`\n`, `\"`, `\u00e9`, surrogate pairs) are decoded into the fixed string as it fills,
//!   so no unescape buffer is needed.
//! - `outstanding_tool_calls` keeps the first 4 names; the rest are dropped.
//! - An `agent_state` this crate does not know is [`AgentState::Unknown`], not an error.
//! - `outstanding_llm_calls` beyond `u32::MAX` saturates (the server counts in u64).
//! - A repeated key: the last one counts (as serde_json reads it), though each must have the
//!   right type. Keys are compared decoded (`"\u0074itle"` is `title`).
//!
//! Malformed JSON and wrong types (a string where a number belongs) are a [`StatusError`].
//!
//! # Leniencies
//! Otherwise the reader refuses what a strict RFC 8259 reader (serde_json) refuses, except:
//! - a raw control character (U+0000 to U+001F) inside a string is kept as it is;
//! - an escape JSON does not have reads as the char after the `\` (`\q` is `q`), and a `\u`
//!   without four hex digits, or a lone surrogate (`\ud800`), reads as U+FFFD;
//! - a number with leading zeros (`007`, `-00.5`) reads as its decimal value;
//! - a number beyond `f64`'s range (`1e400`) is a number (a cost that large saturates);
//! - [`top_level_str`] keeps what it read before the input broke off or went bad.
//!
//! None of these can be mistaken for something a well-formed document says, and refusing them
//! would cost flash for no device's benefit. Stricter than serde_json: the top-level value must
//! be an object, and a value nested more than [`MAX_DEPTH`] levels inside a member is refused
//! (serde_json allows 128). `tests/it/status_json.rs` and the `status_json` fuzz target check
//! all of this against serde_json, leniency by leniency.
//!
//! # Why not serde
//! The reader here is a single pass over the bytes with no recursion: containers nested inside
//! unknown fields are skipped with a bit stack of [`MAX_DEPTH`] levels, so hostile nesting
//! costs neither stack nor time beyond one pass. serde-json-core (used before) recursed once
//! per nesting level, and its generic visitor glue, string unescaping and panic paths came to
//! about 17 KB of firmware flash, most of the SSE app's budget.
//!
//! # Money without floats
//! `total_usage.total_cost_usd` is kept as whole millionths of a dollar
//! ([`DeviceStatus::total_cost_micro_usd`]), read straight from the number's decimal digits
//! (`12.375` is `12_375_000`; `1.5e-3` is `1_500`). Parsing it as `f32` pulled `core`'s
//! decimal-to-float tables and algorithms into every firmware, about 15 KB of flash, and a
//! status light never needs more than the cents. Digits past the sixth decimal round half up,
//! a negative cost reads as 0, and one too large for `u64` saturates.

use core::fmt;

/// Capacity of [`DeviceStatus::epoch`] in bytes.
pub const EPOCH_LEN: usize = 40;
/// Capacity of [`DeviceStatus::title`] in bytes.
pub const TITLE_LEN: usize = 64;
/// Capacity of one tool name in [`DeviceStatus::outstanding_tool_calls`], in bytes.
pub const TOOL_NAME_LEN: usize = 32;
/// How many outstanding tool names are kept.
pub const TOOL_CALLS: usize = 4;
/// Deepest nesting of arrays and objects accepted (the State JSON nests 3 levels); deeper
/// input is [`StatusError::Invalid`].
pub const MAX_DEPTH: u32 = 64;

/// The agent's state, as the server names it (`agent_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AgentState {
    /// `Ready`
    Ready,
    /// `WaitingForUserInput`
    WaitingForUserInput,
    /// `SendingToLLM`
    SendingToLlm,
    /// `ProcessingLLMResponse`
    ProcessingLlmResponse,
    /// `ToolUseRequested`
    ToolUseRequested,
    /// `RunningTool`
    RunningTool,
    /// `EndOfTurn`
    EndOfTurn,
    /// `Cancelled`
    Cancelled,
    /// `BudgetExceeded`
    BudgetExceeded,
    /// `Error`
    Error,
    /// Missing, or a name this crate does not know.
    #[default]
    Unknown,
}

/// What a status display shows: the [`AgentState`]s grouped by what the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activity {
    /// Nothing happening (ready, unknown).
    Idle,
    /// Talking to the model.
    ModelCall,
    /// Running a tool.
    RunningTool,
    /// The agent waits for its user.
    WaitingForUser,
    /// The turn or the session is over (cancelled, budget exceeded).
    Ended,
    /// The agent reported an error.
    Error,
}

impl AgentState {
    /// The server's name for the state (`"Unknown"` for [`AgentState::Unknown`]).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentState::Ready => "Ready",
            AgentState::WaitingForUserInput => "WaitingForUserInput",
            AgentState::SendingToLlm => "SendingToLLM",
            AgentState::ProcessingLlmResponse => "ProcessingLLMResponse",
            AgentState::ToolUseRequested => "ToolUseRequested",
            AgentState::RunningTool => "RunningTool",
            AgentState::EndOfTurn => "EndOfTurn",
            AgentState::Cancelled => "Cancelled",
            AgentState::BudgetExceeded => "BudgetExceeded",
            AgentState::Error => "Error",
            AgentState::Unknown => "Unknown",
        }
    }

    /// The state for a server name; [`AgentState::Unknown`] for any other text.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        // A table scan rather than a `match` on strings: a third of the code on a device.
        const KNOWN: [AgentState; 10] = [
            AgentState::Ready,
            AgentState::WaitingForUserInput,
            AgentState::SendingToLlm,
            AgentState::ProcessingLlmResponse,
            AgentState::ToolUseRequested,
            AgentState::RunningTool,
            AgentState::EndOfTurn,
            AgentState::Cancelled,
            AgentState::BudgetExceeded,
            AgentState::Error,
        ];
        KNOWN
            .into_iter()
            .find(|state| state.as_str() == name)
            .unwrap_or(AgentState::Unknown)
    }

    /// What a display should show for this state.
    ///
    /// `EndOfTurn` means the agent handed the turn back: the user is up, so it is
    /// [`Activity::WaitingForUser`]; a requested tool is about to run, so it is
    /// [`Activity::RunningTool`].
    #[must_use]
    pub const fn activity(self) -> Activity {
        match self {
            AgentState::Ready | AgentState::Unknown => Activity::Idle,
            AgentState::SendingToLlm | AgentState::ProcessingLlmResponse => Activity::ModelCall,
            AgentState::ToolUseRequested | AgentState::RunningTool => Activity::RunningTool,
            AgentState::WaitingForUserInput | AgentState::EndOfTurn => Activity::WaitingForUser,
            AgentState::Cancelled | AgentState::BudgetExceeded => Activity::Ended,
            AgentState::Error => Activity::Error,
        }
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The State JSON could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StatusError {
    /// Not well-formed JSON, not an object, or a known field of the wrong type.
    Invalid,
    /// The input ended inside the JSON value.
    Truncated,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusError::Invalid => "state JSON is invalid",
            StatusError::Truncated => "state JSON is truncated",
        })
    }
}

impl core::error::Error for StatusError {}

/// The device's view of the agent: what a status light or small display needs.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct DeviceStatus {
    /// Number of messages in the log (the next message's index).
    pub message_count: u64,
    /// The log's epoch id, cut to [`EPOCH_LEN`] bytes (feed it to
    /// [`crate::seq::Tracker::handle_epoch`]).
    pub epoch: heapless::String<EPOCH_LEN>,
    /// Conversation title, cut to [`TITLE_LEN`] bytes.
    pub title: heapless::String<TITLE_LEN>,
    /// What the agent is doing.
    pub agent_state: AgentState,
    /// Model calls in flight (the server's u64, saturated at `u32::MAX`).
    pub outstanding_llm_calls: u32,
    /// Names of tools running (the first [`TOOL_CALLS`], each cut to [`TOOL_NAME_LEN`] bytes).
    pub outstanding_tool_calls: heapless::Vec<heapless::String<TOOL_NAME_LEN>, TOOL_CALLS>,
    /// `total_usage.total_cost_usd` in millionths of a dollar (see "Money without floats" in
    /// the module doc).
    pub total_cost_micro_usd: u64,
    /// `total_usage.input_tokens`.
    pub input_tokens: u64,
    /// `total_usage.output_tokens`.
    pub output_tokens: u64,
    /// The agent ended the session.
    pub session_ended: bool,
    /// The user can send messages now.
    pub can_send_messages: bool,
}

impl DeviceStatus {
    /// Parses a State JSON object (the `data` of a `state` event).
    ///
    /// # Errors
    /// [`StatusError`] if the input is not a JSON object or a known field has the wrong type.
    /// Unknown fields, over-long strings and surplus tool names are not errors (see the module
    /// doc).
    pub fn parse(json: &[u8]) -> Result<DeviceStatus, StatusError> {
        let mut r = Reader { s: json, pos: 0 };
        let status = r.status()?;
        match r.peek() {
            Err(StatusError::Truncated) => Ok(status),
            _ => Err(StatusError::Invalid), // trailing characters
        }
    }

    /// What a display should show: [`AgentState::activity`], except that an ended session is
    /// always [`Activity::Ended`].
    #[must_use]
    pub fn activity(&self) -> Activity {
        if self.session_ended {
            Activity::Ended
        } else {
            self.agent_state.activity()
        }
    }
}

/// The raw text (escapes not decoded) of the string member `key` of a top-level JSON object:
/// the last member of that name, as [`DeviceStatus::parse`] and serde_json read it; `None` if
/// there is none or the last one is not a string. Where the JSON is cut or malformed, what was
/// read before the break stands (a `state` cut by the parser's `DATA` bound still names its
/// epoch). `key` has at most 22 bytes (a longer one is never found). The follow session reads the `epoch` of `state` and `reset` events with it, so a
/// device has one JSON reader, not two.
pub fn top_level_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let mut r = Reader {
        s: json.as_bytes(),
        pos: 0,
    };
    let mut found = None;
    let mut first = true;
    if r.expect(b'{').is_err() {
        return None;
    }
    while let Ok(Some(k)) = r.key(&mut first) {
        let named = key_index(k, &[key]) == 0;
        if named && r.peek() == Ok(b'"') {
            found = r.string().ok();
        } else {
            found = found.filter(|_| !named);
            if r.skip().is_err() {
                break;
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The reader: RFC 8259 JSON, one pass, no recursion, no buffer. Strings are handed out raw
// (escapes still in them) and decoded only into the fields that keep them.

type Read<T> = Result<T, StatusError>;

/// A checked JSON scalar.
enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A valid JSON number's text.
    Number(&'a [u8]),
}

/// A cursor over the JSON text. Running out of input is [`StatusError::Truncated`] wherever
/// it happens; any other surprise is [`StatusError::Invalid`].
struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Skips whitespace and returns the next byte without taking it.
    fn peek(&mut self) -> Read<u8> {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(StatusError::Truncated)
    }

    /// Takes `b` (after whitespace) if it is next; `Ok(false)` if another byte is.
    fn eat(&mut self, b: u8) -> Read<bool> {
        let found = self.peek()? == b;
        self.pos += usize::from(found);
        Ok(found)
    }

    /// Takes `b`, which must be next.
    fn expect(&mut self, b: u8) -> Read<()> {
        if self.eat(b)? {
            Ok(())
        } else {
            Err(StatusError::Invalid)
        }
    }

    /// A string; returns its raw text between the quotes, escapes not decoded.
    fn string(&mut self) -> Read<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.s.get(self.pos) {
                None => return Err(StatusError::Truncated),
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.s.get(start..self.pos).ok_or(StatusError::Truncated)?;
        self.pos += 1;
        core::str::from_utf8(raw).map_err(|_| StatusError::Invalid)
    }

    /// A number or `true`/`false`/`null`: the run of bytes that can make one up, checked.
    fn scalar(&mut self) -> Read<Scalar<'a>> {
        self.peek()?;
        let rest = self.s.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
            .count();
        self.pos += n;
        if n == rest.len() {
            // The token may go on in the bytes that did not arrive.
            return Err(StatusError::Truncated);
        }
        match rest.get(..n).unwrap_or_default() {
            b"null" => Ok(Scalar::Null),
            b"true" => Ok(Scalar::Bool(true)),
            b"false" => Ok(Scalar::Bool(false)),
            t if micro_usd(t).is_some() => Ok(Scalar::Number(t)),
            _ => Err(StatusError::Invalid),
        }
    }

    /// Takes `null` if it is next.
    fn null(&mut self) -> Read<bool> {
        if self.peek()? != b'n' {
            return Ok(false);
        }
        match self.scalar()? {
            Scalar::Null => Ok(true),
            _ => Err(StatusError::Invalid),
        }
    }

    /// Between the members of an object (`close` = `}`) or the elements of an array (`]`):
    /// `false` at the end, `true` before the next one. `first` is true right after the opener.
    fn more(&mut self, first: &mut bool, close: u8) -> Read<bool> {
        if self.eat(close)? {
            return Ok(false);
        }
        if !core::mem::replace(first, false) {
            self.expect(b',')?;
        }
        Ok(true)
    }

    /// The next key of an object opened with `{`, and its colon; `None` after the last one.
    fn key(&mut self, first: &mut bool) -> Read<Option<&'a str>> {
        if !self.more(first, b'}')? {
            return Ok(None);
        }
        let key = self.string()?;
        self.expect(b':')?;
        Ok(Some(key))
    }

    /// An unsigned integer; `null` is 0.
    fn u64(&mut self) -> Read<u64> {
        match self.scalar()? {
            Scalar::Null => Ok(0),
            Scalar::Number(t) => t
                .iter()
                .try_fold(0u64, |v, d| {
                    let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
                    v.checked_mul(10)?.checked_add(u64::from(d))
                })
                .ok_or(StatusError::Invalid),
            Scalar::Bool(_) => Err(StatusError::Invalid),
        }
    }

    /// `true` or `false`; `null` is `false`.
    fn bool(&mut self) -> Read<bool> {
        match self.scalar()? {
            Scalar::Null => Ok(false),
            Scalar::Bool(b) => Ok(b),
            Scalar::Number(_) => Err(StatusError::Invalid),
        }
    }

    /// A string decoded into `out` (cut where it is full), or `null` (`out` left empty).
    fn text(&mut self, out: &mut heapless::string::StringView) -> Read<()> {
        out.clear();
        if !self.null()? {
            decode_into(self.string()?, out);
        }
        Ok(())
    }

    /// Any one value, checked and thrown away. Iterative: `depth` bits of `stack` say whether
    /// each open container is an object (1) or an array (0).
    fn skip(&mut self) -> Read<()> {
        let mut stack: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value starts here.
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return Err(StatusError::Invalid);
                    }
                    self.pos += 1;
                    let object = open == b'{';
                    stack = (stack << 1) | u64::from(object);
                    depth += 1;
                    let close = if object { b'}' } else { b']' };
                    if !self.eat(close)? {
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        continue;
                    }
                    stack >>= 1;
                    depth -= 1;
                }
                b'"' => {
                    self.string()?;
                }
                _ => {
                    self.scalar()?;
                }
            }
            // The value ended: close containers until one goes on.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = stack & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return Err(StatusError::Invalid),
                }
                self.pos += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// The State object.
    fn status(&mut self) -> Read<DeviceStatus> {
        let mut s = DeviceStatus::default();
        self.expect(b'{')?;
        let mut first = true;
        while let Some(key) = self.key(&mut first)? {
            match key_index(key, &STATE_KEYS) {
                0 => s.message_count = self.u64()?,
                1 => self.text(s.epoch.as_mut_view())?,
                2 => self.text(s.title.as_mut_view())?,
                3 => {
                    let mut name = heapless::String::<32>::new();
                    self.text(name.as_mut_view())?;
                    s.agent_state = AgentState::from_name(&name);
                }
                4 => {
                    let n = self.u64()?;
                    // The server counts in u64: saturate rather than refuse the State.
                    s.outstanding_llm_calls = u32::try_from(n).unwrap_or(u32::MAX);
                }
                5 => self.tools(&mut s.outstanding_tool_calls)?,
                6 => {
                    // A later `total_usage` (or `null`) replaces all three numbers.
                    (s.input_tokens, s.output_tokens, s.total_cost_micro_usd) = (0, 0, 0);
                    if !self.null()? {
                        self.usage(&mut s)?;
                    }
                }
                7 => s.session_ended = self.bool()?,
                8 => s.can_send_messages = self.bool()?,
                _ => self.skip()?,
            }
        }
        Ok(s)
    }

    /// `total_usage`: the three numbers a device shows; everything else skipped.
    fn usage(&mut self, s: &mut DeviceStatus) -> Read<()> {
        self.expect(b'{')?;
        let mut first = true;
        while let Some(key) = self.key(&mut first)? {
            match key_index(key, &USAGE_KEYS) {
                0 => s.input_tokens = self.u64()?,
                1 => s.output_tokens = self.u64()?,
                2 => {
                    s.total_cost_micro_usd = match self.scalar()? {
                        Scalar::Null => 0,
                        Scalar::Number(t) => micro_usd(t).ok_or(StatusError::Invalid)?,
                        Scalar::Bool(_) => return Err(StatusError::Invalid),
                    };
                }
                _ => self.skip()?,
            }
        }
        Ok(())
    }

    /// `outstanding_tool_calls`: the first [`TOOL_CALLS`] names kept, the rest checked and
    /// dropped.
    fn tools(
        &mut self,
        out: &mut heapless::Vec<heapless::String<TOOL_NAME_LEN>, TOOL_CALLS>,
    ) -> Read<()> {
        out.clear();
        if self.null()? {
            return Ok(());
        }
        self.expect(b'[')?;
        let mut first = true;
        while self.more(&mut first, b']')? {
            if out.is_full() {
                self.skip()?;
            } else {
                let mut name = heapless::String::new();
                decode_into(self.string()?, name.as_mut_view());
                // Cannot fail: there is room.
                let _ = out.push(name);
            }
        }
        Ok(())
    }
}

/// The State keys read, in the order [`Reader::status`] matches them by index.
const STATE_KEYS: [&str; 9] = [
    "message_count",
    "epoch",
    "title",
    "agent_state",
    "outstanding_llm_calls",
    "outstanding_tool_calls",
    "total_usage",
    "session_ended",
    "can_send_messages",
];
/// The `total_usage` keys read, in the order [`Reader::usage`] matches them by index.
const USAGE_KEYS: [&str; 3] = ["input_tokens", "output_tokens", "total_cost_usd"];

/// The longest key [`key_index`] is asked about (`outstanding_tool_calls`).
const KEY_LEN: usize = 22;

/// Where the raw key `raw` (escapes still in it) is in `keys` (`keys.len()` if absent). The key
/// is decoded first, so `"\u0074itle"` is `title` as for any JSON reader, into room for
/// [`KEY_LEN`] bytes and one more char: a longer key, cut there, is still longer than every key
/// asked about. A table scan rather than a `match` on strings, which compiles to a comparison
/// per arm.
fn key_index(raw: &str, keys: &[&str]) -> usize {
    let mut key = heapless::String::<{ KEY_LEN + 4 }>::new();
    decode_into(raw, key.as_mut_view());
    keys.iter().position(|k| *k == key).unwrap_or(keys.len())
}

/// Decodes the raw text of a JSON string (between the quotes, escapes still in it) into `out`,
/// stopping at the first char that does not fit whole.
///
/// Decoding as the string is copied means no buffer has to be sized for the longest string in
/// the document, and skipped strings cost nothing. Invalid escapes become U+FFFD rather than
/// failing the whole status.
fn decode_into(raw: &str, out: &mut heapless::string::StringView) {
    let mut rest = raw;
    while !rest.is_empty() {
        // Plain text up to the next escape: copied whole, or cut at a char boundary.
        let plain = rest.bytes().position(|b| b == b'\\').unwrap_or(rest.len());
        let room = out.capacity() - out.len();
        let mut take = plain.min(room);
        while !rest.is_char_boundary(take) {
            take -= 1;
        }
        let (text, tail) = rest.split_at(take);
        // Cannot fail: `take` fits.
        let _ = out.push_str(text);
        if take < plain {
            return; // full
        }
        let Some(escape) = tail.strip_prefix('\\') else {
            return; // end of the string
        };
        let (c, len) = unescape(escape.as_bytes());
        rest = escape.get(len..).unwrap_or_default();
        if out.push(c).is_err() {
            return;
        }
    }
}

/// The char an escape stands for, given the bytes after its `\`, and how many of them it
/// used. `\uD83D\uDE00` surrogate pairs are joined; a lone surrogate, bad hex or a non-ASCII
/// escaped char is U+FFFD (any other ASCII escape, like `\"`, `\\` or `\/`, is that char).
fn unescape(s: &[u8]) -> (char, usize) {
    fn hex4(s: &[u8]) -> Option<u32> {
        let digits = s.get(..4)?;
        digits
            .iter()
            .try_fold(0, |v, &d| Some(v * 16 + char::from(d).to_digit(16)?))
    }
    let c = match s.first() {
        Some(b'n') => '\n',
        Some(b't') => '\t',
        Some(b'r') => '\r',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'u') => {
            let Some(hi) = s.get(1..).and_then(hex4) else {
                return (char::REPLACEMENT_CHARACTER, 1);
            };
            if (0xD800..0xDC00).contains(&hi)
                && s.get(5..7) == Some(b"\\u")
                && let Some(lo @ 0xDC00..0xE000) = s.get(7..).and_then(hex4)
            {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return (char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER), 11);
            }
            return (char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER), 5);
        }
        Some(&b) if b.is_ascii() => char::from(b),
        _ => return (char::REPLACEMENT_CHARACTER, 0),
    };
    (c, 1)
}

/// Appends the ASCII digits at the front of `s` to `mant` (value = `mant` × 10^(`exp` − 6)),
/// dropping those that no longer fit; returns how many there were, `None` for none.
fn digits(s: &[u8], frac: bool, mant: &mut u64, exp: &mut i64) -> Option<usize> {
    /// `mant` stays below 10^19, within `u64`. A dropped integer digit still scales the value
    /// (which then saturates anyway); a dropped fraction digit is below the rounding unit of
    /// any value this long.
    const KEEP: u64 = 1_000_000_000_000_000_000;
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    for &b in &s[..n] {
        if *mant < KEEP {
            *mant = *mant * 10 + u64::from(b - b'0');
            *exp -= i64::from(frac);
        } else {
            *exp += i64::from(!frac);
        }
    }
    (n > 0).then_some(n)
}

/// A JSON number (RFC 8259 §6: `-? int frac? exp?`) as millionths, from its decimal digits
/// alone: no float arithmetic. Rounds half up past the sixth decimal, reads a negative value
/// as 0 and saturates at `u64::MAX`. `None` if `token` is not a JSON number.
fn micro_usd(token: &[u8]) -> Option<u64> {
    let (negative, rest) = match token.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mut mant, mut exp) = (0u64, 6i64); // value = mant * 10^(exp - 6) dollars
    let n = digits(rest, false, &mut mant, &mut exp)?;
    let mut rest = &rest[n..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = digits(frac, true, &mut mant, &mut exp)?;
        rest = &frac[n..];
    }
    if let Some(e) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let (sign, e) = match e {
            [b'-', e @ ..] => (-1, e),
            [b'+', e @ ..] => (1, e),
            e => (1, e),
        };
        let n = e.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Clamp: any exponent past ±10^6 saturates or vanishes the same way.
        let value = e[..n]
            .iter()
            .fold(0i64, |v, b| (v * 10 + i64::from(b - b'0')).min(1_000_000));
        exp += sign * value;
        rest = &e[n..];
    }
    if !rest.is_empty() {
        return None;
    }
    if negative || mant == 0 {
        return Some(0);
    }
    while exp > 0 {
        let Some(next) = mant.checked_mul(10) else {
            return Some(u64::MAX);
        };
        mant = next;
        exp -= 1;
    }
    // Half up: only the most significant dropped digit decides, and it is dropped last.
    // At most 20 rounds: `mant` is below 10^19.
    let mut up = false;
    while exp < 0 && mant != 0 {
        up = mant % 10 >= 5;
        mant /= 10;
        exp += 1;
    }
    Some(if exp < 0 { 0 } else { mant + u64::from(up) })
}

#[cfg(test)]
mod tests;
