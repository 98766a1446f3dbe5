//! The agent data model (PROTOCOL.md §4): [`AgentMessage`] and [`State`].
//!
//! The hub stores and forwards messages as the JSON objects the agent sent, so fields this
//! crate does not know survive unchanged (agents add fields over time). The typed structs
//! here are a *view* used to validate input and to build messages (demo agent); every struct
//! keeps unknown fields in `extra` so a typed round trip loses nothing either.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::SystemTime;

/// What kind of message an agent emitted (sketch's `CodingAgentMessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// Something the user typed.
    User,
    /// Model output.
    Agent,
    /// A tool call's result.
    Tool,
    /// An error the agent or the host reports.
    Error,
    /// The budget ran out.
    Budget,
    /// A commit was made.
    Commit,
    /// Automatic, host-generated notice.
    Auto,
}

/// Token and cost accounting of one model call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from cache.
    pub cache_read_input_tokens: u64,
    /// Prompt tokens written to cache.
    pub cache_creation_input_tokens: u64,
    /// Cost of this call in US dollars.
    pub cost_usd: f64,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Last message of the agent's turn.
    #[serde(default, skip_serializing_if = "is_false")]
    pub end_of_turn: bool,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tool this message is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Tool input as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Tool output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<String>,
    /// The tool failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_error: Option<bool>,
    /// Which tool call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Tool calls the model requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    /// RFC 3339; the hub fills it in when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Conversation (sub-agent) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Model usage of the call that produced this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<u64>,
    /// Index in the log; assigned by the hub, ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idx: Option<u64>,
    /// Sketch's camelCase key, kept as is.
    #[serde(
        rename = "toolResponses",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_responses: Option<Value>,
    /// Sketch's camelCase key, kept as is.
    #[serde(
        rename = "turnDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub turn_duration: Option<Value>,
    /// Fields this crate does not know, passed through unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl AgentMessage {
    /// A message of `kind` with `content` and nothing else.
    #[must_use]
    pub fn new(kind: MessageType, content: impl Into<String>) -> Self {
        AgentMessage {
            kind,
            end_of_turn: false,
            content: Some(content.into()),
            tool_name: None,
            input: None,
            tool_result: None,
            tool_error: None,
            tool_call_id: None,
            tool_calls: None,
            timestamp: None,
            conversation_id: None,
            usage: None,
            start_time: None,
            end_time: None,
            elapsed: None,
            idx: None,
            tool_responses: None,
            turn_duration: None,
            extra: Map::new(),
        }
    }

    /// This message as a JSON object.
    #[must_use]
    pub fn to_object(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            // A struct always serialises to an object.
            _ => Map::new(),
        }
    }
}

/// Why a message or state update was refused. The `Display` text is the API's error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not a JSON object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// The `type` field is missing.
    #[error("message has no \"type\"")]
    MissingType,
    /// The `type` is not one of PROTOCOL.md §4.
    #[error(
        "unknown message type {0:?} (expected user, agent, tool, error, budget, commit or auto)"
    )]
    UnknownType(String),
    /// A known field has the wrong JSON type.
    #[error("invalid field: {0}")]
    InvalidField(String),
}

/// Validates an agent's message object and prepares it for the log: the typed view must
/// parse, `idx` is set to `idx` (whatever the agent sent is replaced) and `timestamp` is
/// filled in when missing. Every other field, known or not, is kept as sent, in its order.
///
/// # Errors
/// [`ModelError`] when the object is not a valid message; nothing is changed then.
pub fn prepare_message(value: Value, idx: u64) -> Result<Map<String, Value>, ModelError> {
    let Value::Object(mut map) = value else {
        return Err(ModelError::NotAnObject);
    };
    validate_message(&map)?;
    map.insert("idx".into(), Value::from(idx));
    if !map.get("timestamp").is_some_and(Value::is_string) {
        map.insert("timestamp".into(), Value::String(now_rfc3339()));
    }
    Ok(map)
}

/// Checks a message object without changing it.
///
/// # Errors
/// [`ModelError`] naming what is wrong.
pub fn validate_message(map: &Map<String, Value>) -> Result<(), ModelError> {
    match map.get("type") {
        None | Some(Value::Null) => return Err(ModelError::MissingType),
        Some(Value::String(t)) => {
            if serde_json::from_value::<MessageType>(Value::String(t.clone())).is_err() {
                return Err(ModelError::UnknownType(t.clone()));
            }
        }
        Some(other) => return Err(ModelError::UnknownType(other.to_string())),
    }
    let mut view = map.clone();
    view.remove("idx"); // assigned by the hub; any value is replaced
    serde_json::from_value::<AgentMessage>(Value::Object(view))
        .map(|_| ())
        .map_err(|e| ModelError::InvalidField(e.to_string()))
}

/// The agent's activity (`agent_state`); unknown names are kept as [`AgentState::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentState {
    /// Idle, nothing asked yet.
    Ready,
    /// Waiting for the user.
    WaitingForUserInput,
    /// A model call is in flight.
    #[serde(rename = "SendingToLLM")]
    SendingToLlm,
    /// The model's answer is being processed.
    #[serde(rename = "ProcessingLLMResponse")]
    ProcessingLlmResponse,
    /// The model asked for a tool.
    ToolUseRequested,
    /// A tool is running.
    RunningTool,
    /// The turn ended.
    EndOfTurn,
    /// The user cancelled.
    Cancelled,
    /// The budget ran out.
    BudgetExceeded,
    /// The agent failed.
    Error,
    /// A state this crate does not know.
    #[serde(untagged)]
    Other(String),
}

/// Running totals over the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TotalUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from cache.
    pub cache_read_input_tokens: u64,
    /// Prompt tokens written to cache.
    pub cache_creation_input_tokens: u64,
    /// Dollars spent.
    pub total_cost_usd: f64,
    /// Model calls.
    pub messages: u64,
    /// Tool calls by tool name, as sketch sends it (`{"bash": 3}`); a plain count from an
    /// older agent is accepted too.
    pub tool_uses: ToolUses,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `total_usage.tool_uses`: calls per tool (sketch's shape), or a plain count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolUses {
    /// `{"bash": 3, "patch": 1}`
    ByTool(std::collections::BTreeMap<String, u64>),
    /// `4` (agents written before the map).
    Count(u64),
}

impl Default for ToolUses {
    fn default() -> Self {
        ToolUses::ByTool(std::collections::BTreeMap::new())
    }
}

/// Every State field sketch's web UI reads, with the value it means when an agent has not set
/// it (PROTOCOL.md §4). The hub renders a State as these defaults overlaid with what the agent
/// set, so a reader never meets a missing `outstanding_tool_calls` (sketch's UI calls
/// `.length` on it) or a half `total_usage`.
#[must_use]
pub fn state_defaults() -> Map<String, Value> {
    let v = serde_json::json!({
        "title": "",
        "hostname": "",
        "working_dir": "",
        "os": std::env::consts::OS,
        "initial_commit": "",
        "session_id": "",
        "in_container": false,
        "ssh_available": false,
        "outstanding_llm_calls": 0,
        "outstanding_tool_calls": [],
        "total_usage": {
            "start_time": "",
            "messages": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "total_cost_usd": 0.0,
            "tool_uses": {},
        },
        "session_ended": false,
        "can_send_messages": true,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `stored` overlaid on `defaults`: objects merge key by key (recursively), anything else in
/// `stored` wins; a `null` in `stored` keeps the default (sketch's UI reads `null` arrays).
pub fn overlay(defaults: &mut Map<String, Value>, stored: &Map<String, Value>) {
    for (k, v) in stored {
        match (defaults.get_mut(k), v) {
            (Some(_), Value::Null) => {}
            (Some(Value::Object(d)), Value::Object(s)) => overlay(d, s),
            _ => {
                defaults.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The session's state as `/state` and the `state` event show it (PROTOCOL.md §4).
///
/// `message_count`, `epoch` and `first_message_index` belong to the log: the hub sets them
/// and ignores what an agent sends for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Messages in the log (the next `idx`).
    pub message_count: u64,
    /// The log's epoch.
    pub epoch: String,
    /// Session title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the agent is doing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_state: Option<AgentState>,
    /// Model calls in flight.
    pub outstanding_llm_calls: u64,
    /// Names of tools running.
    pub outstanding_tool_calls: Vec<String>,
    /// Running totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_usage: Option<TotalUsage>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The first index still in the log.
    pub first_message_index: u64,
    /// Host the agent runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Commit the session started from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_commit: Option<String>,
    /// The agent ended the session.
    pub session_ended: bool,
    /// The agent accepts chat.
    pub can_send_messages: bool,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl State {
    /// This state as a JSON object.
    #[must_use]
    pub fn to_object(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// Fields of the state that the log owns; a patch cannot set them.
pub const LOG_OWNED_STATE_FIELDS: [&str; 4] = [
    "message_count",
    "epoch",
    "first_message_index",
    RESTART_INDEX_FIELD,
];

/// Where the stored state keeps the index of the current conversation's first message (set by
/// `POST /restart`, shown as `first_message_index`). Not shown itself.
pub const RESTART_INDEX_FIELD: &str = "_restarted_at";

/// Applies a JSON merge patch (RFC 7396) to a state object: `null` deletes a field, objects
/// merge recursively, anything else replaces. Fields in [`LOG_OWNED_STATE_FIELDS`] are
/// skipped. The result must still be a valid [`State`].
///
/// # Errors
/// [`ModelError`] when the patch is not an object or the result is not a valid state; the
/// state is then unchanged.
pub fn merge_state(
    state: &Map<String, Value>,
    patch: &Value,
) -> Result<Map<String, Value>, ModelError> {
    let Value::Object(patch) = patch else {
        return Err(ModelError::NotAnObject);
    };
    let mut next = state.clone();
    for (k, v) in patch {
        if LOG_OWNED_STATE_FIELDS.contains(&k.as_str()) {
            continue;
        }
        merge_value(&mut next, k, v);
    }
    serde_json::from_value::<State>(Value::Object(next.clone()))
        .map_err(|e| ModelError::InvalidField(e.to_string()))?;
    Ok(next)
}

fn merge_value(target: &mut Map<String, Value>, key: &str, patch: &Value) {
    match patch {
        Value::Null => {
            target.remove(key);
        }
        Value::Object(p) => {
            let entry = target
                .entry(key.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(t) = entry {
                for (k, v) in p {
                    merge_value(t, k, v);
                }
            }
        }
        other => {
            target.insert(key.to_owned(), other.clone());
        }
    }
}

/// Now as RFC 3339 UTC with milliseconds.
#[must_use]
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests;
