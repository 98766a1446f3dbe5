//! The device status model: the fixed-capacity subset of the server's State JSON
//! (DESIGN.md §3) that a small device needs, parsed with serde-json-core.
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
//!
//! Malformed JSON and wrong types (a string where a number belongs) are a [`StatusError`].
//!
//! # Money without floats
//! `total_usage.total_cost_usd` is kept as whole millionths of a dollar
//! ([`DeviceStatus::total_cost_micro_usd`]), read straight from the number's decimal digits
//! (`12.375` is `12_375_000`; `1.5e-3` is `1_500`). Parsing it as `f32` pulled `core`'s
//! decimal-to-float tables and algorithms into every firmware, about 15 KB of flash, and a
//! status light never needs more than the cents. Digits past the sixth decimal round half up,
//! a negative cost reads as 0, and one too large for `u64` saturates.

use core::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Capacity of [`DeviceStatus::epoch`] in bytes.
pub const EPOCH_LEN: usize = 40;
/// Capacity of [`DeviceStatus::title`] in bytes.
pub const TITLE_LEN: usize = 64;
/// Capacity of one tool name in [`DeviceStatus::outstanding_tool_calls`], in bytes.
pub const TOOL_NAME_LEN: usize = 32;
/// How many outstanding tool names are kept.
pub const TOOL_CALLS: usize = 4;

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
        match name {
            "Ready" => AgentState::Ready,
            "WaitingForUserInput" => AgentState::WaitingForUserInput,
            "SendingToLLM" => AgentState::SendingToLlm,
            "ProcessingLLMResponse" => AgentState::ProcessingLlmResponse,
            "ToolUseRequested" => AgentState::ToolUseRequested,
            "RunningTool" => AgentState::RunningTool,
            "EndOfTurn" => AgentState::EndOfTurn,
            "Cancelled" => AgentState::Cancelled,
            "BudgetExceeded" => AgentState::BudgetExceeded,
            "Error" => AgentState::Error,
            _ => AgentState::Unknown,
        }
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

impl From<serde_json_core::de::Error> for StatusError {
    fn from(e: serde_json_core::de::Error) -> Self {
        use serde_json_core::de::Error as E;
        match e {
            E::EofWhileParsingList
            | E::EofWhileParsingObject
            | E::EofWhileParsingString
            | E::EofWhileParsingNumber
            | E::EofWhileParsingValue => StatusError::Truncated,
            _ => StatusError::Invalid,
        }
    }
}

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
    /// Model calls in flight.
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
        let (wire, _) = serde_json_core::from_slice::<Wire<'_>>(json)?;
        let mut status = wire.status;
        if let Some(key) = wire.cost_key {
            status.total_cost_micro_usd = cost_after_key(json, key).ok_or(StatusError::Invalid)?;
        }
        Ok(status)
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

// ---------------------------------------------------------------------------------------------
// Deserialization. Hand-written visitors: serde's derive cannot express "truncate", "drop the
// surplus", "null means default" or "ignore unknowns of any shape" for fixed-capacity fields.

/// What serde reads: the status, plus where the cost number is (see [`cost_after_key`]).
/// Private so the public type has no serde surface.
struct Wire<'de> {
    status: DeviceStatus,
    /// The `total_cost_usd` key of the last `total_usage`, borrowed from the input.
    cost_key: Option<&'de str>,
}

/// Field names of State, as deserialized map keys (unknown keys are `Other`).
enum Key {
    MessageCount,
    Epoch,
    Title,
    AgentState,
    OutstandingLlmCalls,
    OutstandingToolCalls,
    TotalUsage,
    SessionEnded,
    CanSendMessages,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "message_count" => Key::MessageCount,
                    "epoch" => Key::Epoch,
                    "title" => Key::Title,
                    "agent_state" => Key::AgentState,
                    "outstanding_llm_calls" => Key::OutstandingLlmCalls,
                    "outstanding_tool_calls" => Key::OutstandingToolCalls,
                    "total_usage" => Key::TotalUsage,
                    "session_ended" => Key::SessionEnded,
                    "can_send_messages" => Key::CanSendMessages,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// `Option<T>` where `null` means "leave the default".
fn opt<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>()
}

impl<'de> Deserialize<'de> for Wire<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Wire<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a State object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire<'de>, A::Error> {
                let mut s = DeviceStatus::default();
                let mut cost_key = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::MessageCount => {
                            s.message_count = opt(&mut map)?.unwrap_or_default();
                        }
                        Key::Epoch => {
                            s.epoch = opt::<Trunc<EPOCH_LEN>, _>(&mut map)?.unwrap_or_default().0;
                        }
                        Key::Title => {
                            s.title = opt::<Trunc<TITLE_LEN>, _>(&mut map)?.unwrap_or_default().0;
                        }
                        Key::AgentState => {
                            s.agent_state = opt::<State, _>(&mut map)?.unwrap_or_default().0;
                        }
                        Key::OutstandingLlmCalls => {
                            s.outstanding_llm_calls = opt(&mut map)?.unwrap_or_default();
                        }
                        Key::OutstandingToolCalls => {
                            s.outstanding_tool_calls =
                                opt::<Tools, _>(&mut map)?.unwrap_or_default().0;
                        }
                        Key::TotalUsage => {
                            let u = opt::<Usage<'de>, _>(&mut map)?.unwrap_or_default();
                            cost_key = u.cost_key;
                            s.input_tokens = u.input_tokens;
                            s.output_tokens = u.output_tokens;
                        }
                        Key::SessionEnded => {
                            s.session_ended = opt(&mut map)?.unwrap_or_default();
                        }
                        Key::CanSendMessages => {
                            s.can_send_messages = opt(&mut map)?.unwrap_or_default();
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Wire {
                    status: s,
                    cost_key,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// `total_usage`: the three numbers a device shows; everything else ignored.
#[derive(Default)]
struct Usage<'de> {
    input_tokens: u64,
    output_tokens: u64,
    /// The `total_cost_usd` key itself; its value is skipped here and read by [`cost_after_key`].
    cost_key: Option<&'de str>,
}

impl<'de> Deserialize<'de> for Usage<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Usage<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a usage object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Usage<'de>, A::Error> {
                let mut u = Usage::default();
                while let Some(key) = map.next_key::<UsageKey<'de>>()? {
                    match key {
                        UsageKey::Input => u.input_tokens = opt(&mut map)?.unwrap_or_default(),
                        UsageKey::Output => u.output_tokens = opt(&mut map)?.unwrap_or_default(),
                        UsageKey::Cost(key) => {
                            // serde-json-core skips a number (or `null`) token here; the value
                            // is checked and read after the whole document parsed.
                            map.next_value::<IgnoredAny>()?;
                            u.cost_key = Some(key);
                        }
                        UsageKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(u)
            }
        }
        d.deserialize_map(V)
    }
}

enum UsageKey<'de> {
    Input,
    Output,
    /// `total_cost_usd`, with the key as borrowed from the input: where its value starts.
    Cost(&'de str),
    Other,
}

impl<'de> Deserialize<'de> for UsageKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UsageKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a usage field name")
            }
            // serde-json-core without an unescape buffer (`from_slice`) hands every key out
            // borrowed from the input.
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<UsageKey<'de>, E> {
                Ok(match s {
                    "input_tokens" => UsageKey::Input,
                    "output_tokens" => UsageKey::Output,
                    "total_cost_usd" => UsageKey::Cost(s),
                    _ => UsageKey::Other,
                })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<UsageKey<'de>, E> {
                Ok(match s {
                    "input_tokens" => UsageKey::Input,
                    "output_tokens" => UsageKey::Output,
                    // Not borrowed: we cannot find its value. Does not happen with `from_slice`;
                    // reported as invalid rather than silently read as 0.
                    "total_cost_usd" => return Err(E::custom("unborrowed cost key")),
                    _ => UsageKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Reads the value of `"total_cost_usd"` in micro-dollars, given that key as borrowed from
/// `doc`: the bytes after it are `"`, `:` and the value token, which serde-json-core has already
/// skipped (it skips numbers without reading them). `null` is 0. `None` if `key` is not a view
/// into `doc` or the value is not a JSON number.
fn cost_after_key(doc: &[u8], key: &str) -> Option<u64> {
    let start = key.as_ptr().addr().checked_sub(doc.as_ptr().addr())?;
    let end = start.checked_add(key.len())?;
    if doc.get(start..end)? != key.as_bytes() {
        return None;
    }
    let rest = doc.get(end..)?.strip_prefix(b"\"")?.trim_ascii_start();
    let rest = rest.strip_prefix(b":")?;
    // The token ends where serde-json-core's skipping stopped: at `,`, `}` or `]`.
    let len = rest
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']'))
        .unwrap_or(rest.len());
    match rest[..len].trim_ascii() {
        b"null" => Some(0),
        token => micro_usd(token),
    }
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
        let value = e[..n].iter().fold(0i64, |v, b| {
            (v * 10 + i64::from(b - b'0')).min(1_000_000)
        });
        exp += sign * value;
        rest = &e[n..];
    }
    if !rest.is_empty() {
        return None;
    }
    if negative || mant == 0 {
        return Some(0);
    }
    if exp >= 0 {
        let mut v = mant;
        for _ in 0..exp {
            match v.checked_mul(10) {
                Some(next) => v = next,
                None => return Some(u64::MAX),
            }
        }
        return Some(v);
    }
    // mant < 10^19, and 10^19 fits u64: a shift of 20 or more leaves less than half a unit.
    let Ok(shift @ ..=19) = u32::try_from(-exp) else {
        return Some(0);
    };
    let div = 10u64.pow(shift);
    let (q, r) = (mant / div, mant % div);
    Some(if r >= div - r { q + 1 } else { q })
}

/// `agent_state`: any string; unknown names become [`AgentState::Unknown`].
#[derive(Default)]
struct State(AgentState);

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Trunc::<32>(name) = Trunc::deserialize(d)?;
        Ok(State(AgentState::from_name(&name)))
    }
}

/// A string cut to `N` bytes at a char boundary, with JSON escapes decoded.
#[derive(Default)]
struct Trunc<const N: usize>(heapless::String<N>);

impl<const N: usize> Trunc<N> {
    /// Appends `c` if it fits whole; returns false once the string is full.
    fn push(&mut self, c: char) -> bool {
        self.0.push(c).is_ok()
    }

    /// Decodes the raw text of a JSON string (between the quotes, escapes still in it).
    ///
    /// serde-json-core without an unescape buffer hands out the raw text; decoding here means
    /// no buffer has to be sized for the longest string in the document, and ignored strings
    /// cost nothing. Invalid escapes become U+FFFD rather than failing the whole status.
    fn from_raw(raw: &str) -> Self {
        let mut out = Trunc(heapless::String::new());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            let c = if c == '\\' {
                match chars.next() {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('u') => decode_u_escape(&mut chars),
                    Some(other) => other, // `\"`, `\\`, `\/`
                    None => char::REPLACEMENT_CHARACTER,
                }
            } else {
                c
            };
            if !out.push(c) {
                break;
            }
        }
        out
    }
}

/// Reads `XXXX` (after `\u`) and, for a high surrogate, a following `\uXXXX` low surrogate.
fn decode_u_escape(chars: &mut core::str::Chars<'_>) -> char {
    fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v * 16 + chars.next()?.to_digit(16)?;
        }
        Some(v)
    }
    let Some(hi) = hex4(chars) else {
        return char::REPLACEMENT_CHARACTER;
    };
    if (0xD800..0xDC00).contains(&hi) {
        let mut look = chars.clone();
        if look.next() == Some('\\')
            && look.next() == Some('u')
            && let Some(lo) = hex4(&mut look)
            && (0xDC00..0xE000).contains(&lo)
        {
            *chars = look;
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
        }
    }
    char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER)
}

impl<'de, const N: usize> Deserialize<'de> for Trunc<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = Trunc<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Trunc<N>, E> {
                Ok(Trunc::from_raw(s))
            }
        }
        d.deserialize_str(V::<N>)
    }
}

/// `outstanding_tool_calls`: the first [`TOOL_CALLS`] names kept, the rest read and dropped.
#[derive(Default)]
struct Tools(heapless::Vec<heapless::String<TOOL_NAME_LEN>, TOOL_CALLS>);

impl<'de> Deserialize<'de> for Tools {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tools;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of tool names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tools, A::Error> {
                let mut tools = Tools::default();
                while !tools.0.is_full() {
                    match seq.next_element::<Trunc<TOOL_NAME_LEN>>()? {
                        Some(name) => {
                            // Cannot fail: the loop runs only while there is room.
                            let _ = tools.0.push(name.0);
                        }
                        None => return Ok(tools),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(tools)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests;
