//! The golden parser corpus: `tests/data/parse/NAME.sse` (raw stream bytes, written from the
//! WHATWG spec text and the legacy `/stream` transcript) with `NAME.events`, the expected output
//! in the `sse-host decode` format: one JSON line per dispatched event,
//! `{"type":T,"data":D,"last_event_id":I}`, then `{"end":true,"last_event_id":I,"retry":R}`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One dispatched event as the corpus writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenEvent {
    /// The event type (`"message"` if the stream named none).
    pub event_type: String,
    /// The joined data.
    pub data: String,
    /// The last event ID at dispatch.
    pub last_event_id: String,
}

/// Everything a parser must produce for one input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    /// The dispatched events, in order.
    pub events: Vec<GoldenEvent>,
    /// The last event ID after the end of the stream.
    pub last_event_id: String,
    /// The reconnection time set by the stream, in ms.
    pub retry: Option<u64>,
}

/// A golden case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file stem, e.g. `crlf`.
    pub name: String,
    /// The raw `.sse` bytes.
    pub input: Vec<u8>,
    /// The `.events` file, verbatim.
    pub events_text: String,
    /// The `.events` file, parsed.
    pub expected: Expected,
}

/// The corpus directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/parse")
}

/// Every case, sorted by name. Panics (it is test code) on a malformed corpus.
pub fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(dir())
        .expect("corpus directory")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sse"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let input = std::fs::read(&path).expect("read .sse");
            let events_text = std::fs::read_to_string(path.with_extension("events"))
                .unwrap_or_else(|e| panic!("{name}.events: {e}"));
            let expected =
                parse_events(&events_text).unwrap_or_else(|e| panic!("{name}.events: {e}"));
            Case {
                name,
                input,
                events_text,
                expected,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(cases.len() >= 20, "golden corpus is missing cases");
    cases
}

/// Parses text in the `sse-host decode` output format.
///
/// # Errors
/// A line that is not one of the two JSON shapes, or a missing or early end line.
pub fn parse_events(text: &str) -> Result<Expected, String> {
    let mut expected = Expected::default();
    let mut ended = false;
    for (n, line) in text.lines().enumerate() {
        if ended {
            return Err(format!("line {}: output after the end line", n + 1));
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let str_field = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("line {}: no string {key:?}", n + 1))
        };
        if value.get("end") == Some(&Value::Bool(true)) {
            expected.last_event_id = str_field("last_event_id")?;
            expected.retry = match value.get("retry") {
                Some(Value::Null) => None,
                Some(r) => Some(
                    r.as_u64()
                        .ok_or_else(|| format!("line {}: bad retry", n + 1))?,
                ),
                None => return Err(format!("line {}: no retry", n + 1)),
            };
            ended = true;
        } else {
            expected.events.push(GoldenEvent {
                event_type: str_field("type")?,
                data: str_field("data")?,
                last_event_id: str_field("last_event_id")?,
            });
        }
    }
    if !ended {
        return Err("no end line".into());
    }
    Ok(expected)
}
