//! Every SSE frame this server sends, encoded by `sse-core`'s encoder (never by hand, never by
//! axum's `Event`), once, into a shared [`Bytes`].

use bytes::Bytes;
use sse_core::Seq;
use sse_core::event::{EventId, EventName, Frame};

const fn name(s: &'static str) -> EventName<'static> {
    match EventName::new(s) {
        Ok(n) => n,
        Err(_) => panic!("event names are constants without CR, LF or NUL"),
    }
}

/// `message`: one log entry, `id:` = its index.
pub const MESSAGE: EventName<'static> = name("message");
/// `state`: the State JSON.
pub const STATE: EventName<'static> = name("state");
/// `heartbeat`: Unix time in seconds.
pub const HEARTBEAT: EventName<'static> = name("heartbeat");
/// `reset`: the client's resume point is not in this log.
pub const RESET: EventName<'static> = name("reset");
/// `session_ended`: clients stop reconnecting.
pub const SESSION_ENDED: EventName<'static> = name("session_ended");

fn encode(frame: &Frame<'_>) -> Bytes {
    let mut buf = vec![0u8; frame.encoded_len()];
    match frame.encode(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Bytes::from(buf)
        }
        Err(e) => {
            // encoded_len() sized the buffer; the encoder cannot disagree with itself.
            tracing::error!(
                needed = e.needed,
                "SSE encoder refused a buffer of encoded_len()"
            );
            Bytes::new()
        }
    }
}

/// A `message` frame for the stored JSON of message `idx` of the log with `epoch`; its `id:` is
/// `<epoch>-<idx>` ([`sse_core::seq::EventRef`]), so a resume names its history.
#[must_use]
pub fn message(epoch: &str, idx: Seq, json: &[u8]) -> Bytes {
    let id = sse_core::seq::EventRef {
        epoch: Some(epoch),
        idx,
    }
    .to_string();
    let data = String::from_utf8_lossy(json);
    let mut frame = Frame::new().event(MESSAGE).data(&data);
    if let Ok(id) = EventId::new(&id) {
        frame = frame.id(id);
    }
    encode(&frame)
}

/// An event with JSON `data` and no id (`state`, `reset`, `session_ended`, inbox commands).
#[must_use]
pub fn json_event(event: EventName<'_>, json: &str) -> Bytes {
    encode(&Frame::new().event(event).data(json))
}

/// An event with JSON `data` and an id (inbox commands).
#[must_use]
pub fn json_event_with_id(event: EventName<'_>, id: u64, json: &str) -> Bytes {
    let id = id.to_string();
    let mut frame = Frame::new().event(event).data(json);
    if let Ok(id) = EventId::new(&id) {
        frame = frame.id(id);
    }
    encode(&frame)
}

/// `heartbeat` with the Unix time.
#[must_use]
pub fn heartbeat(unix_secs: u64) -> Bytes {
    let data = unix_secs.to_string();
    encode(&Frame::new().event(HEARTBEAT).data(&data))
}

/// The `retry:` hint that opens every stream, as a field line *without* the blank line that
/// would end its block: it goes in front of the stream's first event, so that it is part of
/// that event's block. (A block of `retry:` alone dispatches nothing in a WHATWG client, but
/// httpx-sse and sseclient-py dispatch it as an empty `message`, whose data is not JSON.) The
/// bytes are the core encoder's: a frame's fields are written `retry`, `event`, `id`, `data`,
/// so `retry line + frame` is exactly the frame with its retry set.
#[must_use]
pub fn retry_line(retry: std::time::Duration) -> Bytes {
    let ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
    let block = encode(&Frame::new().retry(sse_core::Duration::from_millis(ms)));
    // `retry: N\n\n`: drop the final `\n`.
    block.slice(..block.len().saturating_sub(1))
}

/// `reset` telling the client which log it is talking to now.
#[must_use]
pub fn reset(epoch: &str, message_count: Seq) -> Bytes {
    let data = serde_json::json!({"epoch": epoch, "message_count": message_count.0}).to_string();
    json_event(RESET, &data)
}

/// `session_ended` with a human-readable reason.
#[must_use]
pub fn session_ended(message: &str) -> Bytes {
    let data = serde_json::json!({"message": message}).to_string();
    json_event(SESSION_ENDED, &data)
}
