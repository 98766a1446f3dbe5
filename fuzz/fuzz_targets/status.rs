//! The device's JSON reader (`sse_core::agent::state`) against serde_json on the same bytes. It reads
//! `state` and `reset` data from the network, so on any bytes it must not panic, and:
//! - where serde_json accepts the bytes (and they nest no deeper than the reader's bound), the
//!   reader's view (every field of `DeviceState`, and the `epoch` that `top_level_str` finds)
//!   is what the module doc's rules make of serde_json's reading;
//! - where serde_json refuses them, the reader refuses them too, unless they use one of the
//!   leniencies the module doc lists ([`LENIENCIES`], found by [`leniencies`]).
//!
//! Shared by the `status_json` target, the corpus replay in `tests/it/fuzz_corpus.rs` and the
//! property tests in `tests/it/status_json.rs`.
// Each includer uses only some of these.
#![allow(dead_code)]

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sse_core::agent::state::{
    AgentState, DeviceState, EPOCH_LEN, MAX_DEPTH, StateError, TITLE_LEN, TOOL_CALLS,
    TOOL_NAME_LEN, top_level_str,
};

/// Where the reader may accept what serde_json refuses (the module doc of `sse_core::agent::state`,
/// "Leniencies"). Every other refusal by serde_json must be a refusal by the reader. (The last
/// leniency listed there, `top_level_str` keeping what it read before the input broke, needs
/// no entry: nothing is asserted about `top_level_str` on input serde_json refuses.)
pub const LENIENCIES: [Leniency; 4] = [
    Leniency::ControlChar,
    Leniency::BadEscape,
    Leniency::LeadingZero,
    Leniency::OutOfRange,
];

/// One documented leniency of the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leniency {
    /// A raw control character (U+0000 to U+001F) inside a string.
    ControlChar,
    /// An escape JSON does not have (`\q`, `\u12`), or a lone surrogate (`\ud800`).
    BadEscape,
    /// A number with a leading zero (`01`, `-00.5`).
    LeadingZero,
    /// A number too large for an `f64` (`1e400`).
    OutOfRange,
}

/// The documented leniencies `json` uses, found by a lexer that splits tokens as the reader does
/// (a string runs from `"` to the next unescaped `"`; a bare token is a run of ASCII letters,
/// digits, `+`, `-` and `.`).
pub fn leniencies(json: &[u8]) -> Vec<Leniency> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        if b == b'"' {
            i += 1;
            while let Some(&c) = json.get(i) {
                match c {
                    b'"' => break,
                    b'\\' => {
                        let (ok, len) = escape(&json[i + 1..]);
                        if !ok {
                            found.push(Leniency::BadEscape);
                        }
                        i += 1 + len.max(1);
                        continue;
                    }
                    0..0x20 => found.push(Leniency::ControlChar),
                    _ => {}
                }
                i += 1;
            }
            i += 1;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
            let n = json[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                .count();
            let token = &json[i..i + n];
            let digits = token.strip_prefix(b"-").unwrap_or(token);
            if digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit() {
                found.push(Leniency::LeadingZero);
            }
            if let Ok(v) = std::str::from_utf8(token).unwrap_or("x").parse::<f64>()
                && v.is_infinite()
                && token
                    .iter()
                    .all(|b| !b.is_ascii_alphabetic() || b"eE".contains(b))
            {
                found.push(Leniency::OutOfRange);
            }
            i += n;
        } else {
            i += 1;
        }
    }
    found
}

/// Whether the escape whose bytes follow a `\` is JSON's, and how many bytes it has.
fn escape(s: &[u8]) -> (bool, usize) {
    fn hex4(s: &[u8]) -> Option<u32> {
        let h = std::str::from_utf8(s.get(..4)?).ok()?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    }
    match s.first() {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => (true, 1),
        Some(b'u') => match s.get(1..).and_then(hex4) {
            Some(0xD800..0xDC00) => {
                let lo = (s.get(5..7) == Some(b"\\u"))
                    .then(|| s.get(7..).and_then(hex4))
                    .flatten();
                match lo {
                    Some(0xDC00..0xE000) => (true, 11),
                    _ => (false, 5),
                }
            }
            Some(0xDC00..0xE000) => (false, 5),
            Some(_) => (true, 5),
            None => (false, 1),
        },
        _ => (false, 1),
    }
}

/// Deepest nesting of arrays and objects outside strings, the top-level value included.
pub fn depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The reader must read any document nested this deep (the top-level object is one level, a
/// skipped value may nest [`MAX_DEPTH`] more).
pub const READ_DEPTH: usize = MAX_DEPTH as usize + 1;

// ---------------------------------------------------------------------------------------------
// The model: serde_json reads the bytes; the module doc's rules turn what it read into the view.
// A visitor rather than a `Value`, so that every occurrence of a repeated key is seen in order
// (a `Value` keeps only the last): each one must have the right type, the last one counts.

/// What the module doc's rules make of a document serde_json accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The status, or `Invalid` (a known field of the wrong type, or not an object).
    pub status: Result<View, StateError>,
    /// The last top-level `epoch` member, if it is a string, decoded.
    pub epoch: Option<String>,
}

/// Every field of `DeviceState`, as plain values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub message_count: u64,
    pub epoch: String,
    pub title: String,
    pub agent_state: AgentState,
    pub outstanding_llm_calls: u32,
    pub outstanding_tool_calls: Vec<String>,
    /// serde_json's reading of `total_cost_usd` (the reader's micro-dollars are checked against
    /// it within a rounding step: serde_json reads an `f64`, the reader the decimal digits).
    pub total_cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub session_ended: bool,
    pub can_send_messages: bool,
}

impl View {
    pub fn of(s: &DeviceState) -> (View, u64) {
        let view = View {
            message_count: s.message_count,
            epoch: s.epoch.as_str().into(),
            title: s.title.as_str().into(),
            agent_state: s.agent_state,
            outstanding_llm_calls: s.outstanding_llm_calls,
            outstanding_tool_calls: s
                .outstanding_tool_calls
                .iter()
                .map(|t| t.as_str().into())
                .collect(),
            total_cost_usd: 0.0,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            session_ended: s.session_ended,
            can_send_messages: s.can_send_messages,
        };
        (view, s.total_cost_micro_usd)
    }
}

/// `s` cut to at most `cap` bytes at a char boundary.
pub fn cut(s: &str, cap: usize) -> String {
    let mut end = s.len().min(cap);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].into()
}

/// What the reader should make of `total_cost_usd` read by serde_json as `cost`, and how far
/// the exact decimal reading may be from it.
pub fn micro_usd(cost: f64) -> (u64, u64) {
    let micros = cost * 1e6;
    let want = if micros.is_nan() || micros <= 0.0 {
        0
    } else if micros >= u64::MAX as f64 {
        u64::MAX
    } else {
        micros.round() as u64
    };
    // One for a half-way digit string that the float lands either side of, plus the float's own
    // relative error (two roundings: the decimal reading and the scaling).
    (
        want,
        ((micros.abs() * 4.0 * f64::EPSILON) as u64).saturating_add(1),
    )
}

type Field<T> = Result<T, StateError>;
const INVALID: StateError = StateError::Invalid;

fn uint(v: &Value) -> Field<u64> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_u64().ok_or(INVALID),
        _ => Err(INVALID),
    }
}

fn text(v: &Value, cap: usize) -> Field<String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(cut(s, cap)),
        _ => Err(INVALID),
    }
}

fn flag(v: &Value) -> Field<bool> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(INVALID),
    }
}

/// The top-level value.
enum Top {
    Object(Model),
    Other,
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut v = View::default();
        let mut error = None;
        let mut epoch = None;
        while let Some(key) = map.next_key::<String>()? {
            let field: Field<()> = match key.as_str() {
                "total_usage" => {
                    let usage = map.next_value::<Usage>()?;
                    usage.0.map(|(input, output, cost)| {
                        (v.input_tokens, v.output_tokens, v.total_cost_usd) = (input, output, cost);
                    })
                }
                _ => {
                    let value = map.next_value::<Value>()?;
                    match key.as_str() {
                        "message_count" => uint(&value).map(|n| v.message_count = n),
                        "epoch" => {
                            epoch = value.as_str().map(String::from);
                            text(&value, EPOCH_LEN).map(|s| v.epoch = s)
                        }
                        "title" => text(&value, TITLE_LEN).map(|s| v.title = s),
                        "agent_state" => {
                            text(&value, 32).map(|s| v.agent_state = AgentState::from_name(&s))
                        }
                        "outstanding_llm_calls" => uint(&value)
                            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                            .map(|n| v.outstanding_llm_calls = n),
                        "outstanding_tool_calls" => {
                            tools(&value).map(|t| v.outstanding_tool_calls = t)
                        }
                        "session_ended" => flag(&value).map(|b| v.session_ended = b),
                        "can_send_messages" => flag(&value).map(|b| v.can_send_messages = b),
                        _ => Ok(()),
                    }
                }
            };
            if let Err(e) = field {
                // The reader stops at the first bad field; serde_json reads on, so that a syntax
                // error after it is still a syntax error.
                error.get_or_insert(e);
            }
        }
        Ok(Top::Object(Model {
            status: match error {
                Some(e) => Err(e),
                None => Ok(v),
            },
            epoch,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Top::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Other)
    }
}

fn tools(v: &Value) -> Field<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .take(TOOL_CALLS)
            .map(|t| t.as_str().map(|s| cut(s, TOOL_NAME_LEN)).ok_or(INVALID))
            .collect(),
        _ => Err(INVALID),
    }
}

/// `total_usage`: `(input_tokens, output_tokens, total_cost_usd)`; `null` is all zero.
struct Usage(Field<(u64, u64, f64)>);

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UsageVisitor)
    }
}

struct UsageVisitor;

impl<'de> Visitor<'de> for UsageVisitor {
    type Value = Usage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Usage, A::Error> {
        let (mut input, mut output, mut cost) = (0, 0, 0.0);
        let mut error = None;
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            let field = match key.as_str() {
                "input_tokens" => uint(&value).map(|n| input = n),
                "output_tokens" => uint(&value).map(|n| output = n),
                "total_cost_usd" => match &value {
                    Value::Null => Ok(0.0),
                    Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
                    _ => Err(INVALID),
                }
                .map(|c| cost = c),
                _ => Ok(()),
            };
            if let Err(e) = field {
                error.get_or_insert(e);
            }
        }
        Ok(Usage(match error {
            Some(e) => Err(e),
            None => Ok((input, output, cost)),
        }))
    }

    fn visit_unit<E>(self) -> Result<Usage, E> {
        Ok(Usage(Ok((0, 0, 0.0))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Usage, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Usage(Err(INVALID)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Usage, E> {
        Ok(Usage(Err(INVALID)))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Usage, E> {
        Ok(Usage(Err(INVALID)))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Usage, E> {
        Ok(Usage(Err(INVALID)))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Usage, E> {
        Ok(Usage(Err(INVALID)))
    }
    fn visit_str<E>(self, _: &str) -> Result<Usage, E> {
        Ok(Usage(Err(INVALID)))
    }
}

/// serde_json's reading of `json` through the module doc's rules; `None` if serde_json refuses
/// it.
pub fn model(json: &[u8]) -> Option<Model> {
    // A `Value` first: it refuses exactly what serde_json refuses (the visitor above reads
    // through `Value`s too, but asks for each value in a way that could differ).
    serde_json::from_slice::<Value>(json).ok()?;
    match serde_json::from_slice::<Top>(json) {
        Ok(Top::Object(m)) => Some(m),
        Ok(Top::Other) => Some(Model {
            status: Err(INVALID),
            epoch: None,
        }),
        Err(e) => panic!("serde_json read a Value but not the model: {e}"),
    }
}

/// The raw text of a JSON string (escapes still in it) decoded by serde_json.
fn decode_raw(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(&format!("\"{raw}\"")).ok()
}

/// The differential check on any bytes; panics on a difference.
pub fn check(json: &[u8]) {
    let got = DeviceState::parse(json);
    let raw_epoch = std::str::from_utf8(json)
        .ok()
        .and_then(|s| top_level_str(s, "epoch"));
    let Some(want) = model(json) else {
        let lenient = leniencies(json);
        assert!(
            got.is_err() || !lenient.is_empty(),
            "serde_json refuses, the reader accepts (no leniency used): {got:?}"
        );
        return;
    };
    if depth(json) > READ_DEPTH {
        // Deeper than the reader's bound: it may refuse (it must not panic, and did not).
        return;
    }
    match (&got, &want.status) {
        (Ok(status), Ok(view)) => {
            let (mut have, micros) = View::of(status);
            let (expected, slack) = micro_usd(view.total_cost_usd);
            assert!(
                micros.abs_diff(expected) <= slack,
                "total_cost_usd {}: reader {micros}, serde_json {expected}",
                view.total_cost_usd
            );
            have.total_cost_usd = view.total_cost_usd;
            assert_eq!(&have, view, "the reader's view differs from serde_json's");
        }
        (Err(e), Err(w)) => assert_eq!(e, w),
        _ => panic!("reader {got:?}, serde_json {:?}", want.status),
    }
    assert_eq!(
        raw_epoch.map(|raw| decode_raw(raw).expect("serde_json accepted this string")),
        want.epoch,
        "top_level_str(json, \"epoch\") {raw_epoch:?}"
    );
}
