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
    /// `total_usage.total_cost_usd`.
    pub total_cost_usd: f32,
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
        let (Wire(status), _) = serde_json_core::from_slice::<Wire>(json)?;
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

/// Newtype so the `Deserialize` impl stays private (the public type has no serde surface).
struct Wire(DeviceStatus);

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

impl<'de> Deserialize<'de> for Wire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Wire;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a State object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
                let mut s = DeviceStatus::default();
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
                            let u = opt::<Usage, _>(&mut map)?.unwrap_or_default();
                            s.total_cost_usd = u.total_cost_usd;
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
                Ok(Wire(s))
            }
        }
        d.deserialize_map(V)
    }
}

/// `total_usage`: the three numbers a device shows; everything else ignored.
#[derive(Default)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    total_cost_usd: f32,
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Usage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a usage object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Usage, A::Error> {
                let mut u = Usage::default();
                while let Some(key) = map.next_key::<UsageKey>()? {
                    match key {
                        UsageKey::Input => u.input_tokens = opt(&mut map)?.unwrap_or_default(),
                        UsageKey::Output => u.output_tokens = opt(&mut map)?.unwrap_or_default(),
                        // `null` is caught by `Option` before serde-json-core's float reader
                        // (which would turn it into NaN).
                        UsageKey::Cost => u.total_cost_usd = opt(&mut map)?.unwrap_or_default(),
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

enum UsageKey {
    Input,
    Output,
    Cost,
    Other,
}

impl<'de> Deserialize<'de> for UsageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UsageKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a usage field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<UsageKey, E> {
                Ok(match s {
                    "input_tokens" => UsageKey::Input,
                    "output_tokens" => UsageKey::Output,
                    "total_cost_usd" => UsageKey::Cost,
                    _ => UsageKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
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
