//! The agent's State as a device keeps it: the fixed-capacity subset of the server's State JSON
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
//! Malformed JSON and wrong types (a string where a number belongs) are a [`StateError`].
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
//! ([`DeviceState::total_cost_micro_usd`]), read straight from the number's decimal digits
//! (`12.375` is `12_375_000`; `1.5e-3` is `1_500`). Parsing it as `f32` pulled `core`'s
//! decimal-to-float tables and algorithms into every firmware, about 15 KB of flash, and a
//! status light never needs more than the cents. Digits past the sixth decimal round half up,
//! a negative cost reads as 0, and one too large for `u64` saturates.

use core::fmt;

mod json;

#[cfg(test)]
use json::KEY_LEN;
pub use json::top_level_str;
use json::{Read, Reader, Scalar, decode_into, key_index, micro_usd};

/// Capacity of [`DeviceState::epoch`] in bytes.
pub const EPOCH_LEN: usize = 40;
/// Capacity of [`DeviceState::title`] in bytes.
pub const TITLE_LEN: usize = 64;
/// Capacity of one tool name in [`DeviceState::outstanding_tool_calls`], in bytes.
pub const TOOL_NAME_LEN: usize = 32;
/// How many outstanding tool names are kept.
pub const TOOL_CALLS: usize = 4;
/// Deepest nesting of arrays and objects accepted (the State JSON nests 3 levels); deeper
/// input is [`StateError::Invalid`].
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
pub enum StateError {
    /// Not well-formed JSON, not an object, or a known field of the wrong type.
    Invalid,
    /// The input ended inside the JSON value.
    Truncated,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateError::Invalid => "state JSON is invalid",
            StateError::Truncated => "state JSON is truncated",
        })
    }
}

impl core::error::Error for StateError {}

/// The device's view of the agent: what a status light or small display needs.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct DeviceState {
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

impl DeviceState {
    /// Parses a State JSON object (the `data` of a `state` event).
    ///
    /// # Errors
    /// [`StateError`] if the input is not a JSON object or a known field has the wrong type.
    /// Unknown fields, over-long strings and surplus tool names are not errors (see the module
    /// doc).
    pub fn parse(json: &[u8]) -> Result<DeviceState, StateError> {
        let mut r = Reader::new(json);
        let status = r.status()?;
        match r.peek() {
            Err(StateError::Truncated) => Ok(status),
            _ => Err(StateError::Invalid), // trailing characters
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

// The State read with the generic reader in `json`: which keys, into which fields.
impl Reader<'_> {
    /// The State object.
    fn status(&mut self) -> Read<DeviceState> {
        let mut s = DeviceState::default();
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
    fn usage(&mut self, s: &mut DeviceState) -> Read<()> {
        self.expect(b'{')?;
        let mut first = true;
        while let Some(key) = self.key(&mut first)? {
            match key_index(key, &USAGE_KEYS) {
                0 => s.input_tokens = self.u64()?,
                1 => s.output_tokens = self.u64()?,
                2 => {
                    s.total_cost_micro_usd = match self.scalar()? {
                        Scalar::Null => 0,
                        Scalar::Number(t) => micro_usd(t).ok_or(StateError::Invalid)?,
                        Scalar::Bool(_) => return Err(StateError::Invalid),
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

#[cfg(test)]
mod tests;
