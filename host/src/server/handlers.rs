//! The JSON endpoints: browser-facing (sketch-compatible) and agent-facing.

use super::stream::query;
use super::{ApiError, App};
use crate::inbox::{CommandKind, TooLarge};
use crate::web;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sse_core::Seq;
use sse_core::seq::parse_index;
use std::sync::Arc;

/// Messages read from the log per chunk of a `/messages` or `/download` body.
const READ_CHUNK: usize = 512;
/// Bytes read from the log per chunk of a `/messages` or `/download` body.
const READ_CHUNK_BYTES: usize = 1 << 20;

pub(super) async fn index() -> Response {
    web_response(web::INDEX)
}

/// `GET /web/{name}`: the UI's other files (scripts, styles), embedded in the binary.
pub(super) async fn web_asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    web::asset(&name)
        .map(web_response)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such file"))
}

fn web_response(asset: web::Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            // Small files, and a new binary may bring new ones: always revalidate.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

pub(super) async fn state(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, app.hub.state_json())
}

pub(super) async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        app.hub.render_metrics(),
    )
        .into_response()
}

/// `GET /messages?start=A&end=B`: a JSON array of messages `A..B` (end defaults to, and is
/// clamped at, the message count), streamed from the log in bounded chunks.
pub(super) async fn messages(
    State(app): State<Arc<App>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(q)?;
    let get = |name: &str| -> Result<Option<Seq>, ApiError> {
        match params.iter().rev().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => parse_index(v)
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("bad {name} {v:?}: {e}"))),
        }
    };
    let count = app.hub.message_count();
    let start = get("start")?.unwrap_or(Seq::ZERO);
    let end = get("end")?.unwrap_or(count).min(count);
    if start > end {
        return Err(ApiError::bad_request(format!(
            "start {start} is after end {end} (the log has {count} messages)"
        )));
    }
    Ok(json_response(
        StatusCode::OK,
        json_array_body(app, start, end, Bytes::new(), Bytes::new()),
    ))
}

/// `GET /download`: the whole conversation, `{"state":…,"messages":[…]}`, as a file.
pub(super) async fn download(State(app): State<Arc<App>>) -> Response {
    let mut head = b"{\"state\":".to_vec();
    head.extend_from_slice(&app.hub.state_json());
    head.extend_from_slice(b",\"messages\":");
    let end = app.hub.message_count();
    let mut res = json_response(
        StatusCode::OK,
        json_array_body(
            app,
            Seq::ZERO,
            end,
            Bytes::from(head),
            Bytes::from_static(b"}"),
        ),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"conversation.json\""),
    );
    res
}

/// `prefix [m_start, …, m_end-1] suffix`, read from the log a chunk at a time. Messages below
/// the log's `first` (dropped by retention) are not there: the array starts at `first` then.
fn json_array_body(app: Arc<App>, start: Seq, end: Seq, prefix: Bytes, suffix: Bytes) -> Body {
    enum Step {
        Open(Bytes),
        /// Next index to read; whether a row was written yet (commas go between rows).
        Rows(Seq, bool),
        Close(Bytes),
        Done,
    }
    let stream = futures_util::stream::unfold(Step::Open(prefix), move |step| {
        let app = Arc::clone(&app);
        let suffix = suffix.clone();
        async move {
            match step {
                Step::Open(prefix) => {
                    let mut b = prefix.to_vec();
                    b.push(b'[');
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(b)),
                        Step::Rows(start, false),
                    ))
                }
                Step::Rows(pos, _) if pos >= end => {
                    Some((Ok(Bytes::from_static(b"]")), Step::Close(suffix)))
                }
                Step::Rows(pos, mut any) => {
                    let max = usize::try_from(end.0 - pos.0)
                        .unwrap_or(usize::MAX)
                        .min(READ_CHUNK);
                    match app.hub.read(pos, max, READ_CHUNK_BYTES).await {
                        Ok(records) if !records.is_empty() => {
                            let mut b = Vec::new();
                            let mut next = pos;
                            for r in records.into_iter().take_while(|r| r.idx < end) {
                                if any {
                                    b.push(b',');
                                }
                                any = true;
                                b.extend_from_slice(&r.json);
                                next = r.idx.next();
                            }
                            Some((Ok(Bytes::from(b)), Step::Rows(next, any)))
                        }
                        Ok(_) => Some((Ok(Bytes::from_static(b"]")), Step::Close(suffix))),
                        Err(e) => Some((Err(std::io::Error::other(e)), Step::Done)),
                    }
                }
                Step::Close(suffix) => Some((Ok(suffix), Step::Done)),
                Step::Done => None,
            }
        }
    });
    Body::from_stream(stream)
}

/// Reads a JSON body of at most `--max-body` bytes.
pub(super) async fn read_json(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let max = app.config.max_body;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the {max} byte limit"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if over {
            too_large()
        } else {
            ApiError::bad_request(format!("could not read the body: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

fn object(v: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(format!(
            "{what} must be a JSON object"
        ))),
    }
}

/// 413 for a command the inbox could never hold (larger than its whole byte bound).
fn command_too_large(e: TooLarge) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
}

/// `POST /api/messages`: append; `{"idx": N}`.
pub(super) async fn append_message(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = read_json(&app, &headers, body).await?;
    let idx = app.hub.append(v).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({"idx": idx.0}).to_string(),
    ))
}

/// `PATCH /api/state`: JSON merge patch; answers with the new state.
pub(super) async fn patch_state(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = read_json(&app, &headers, body).await?;
    let state = app.hub.patch_state(&v).await?;
    Ok(json_response(StatusCode::OK, state))
}

/// `POST /chat {"message"}`: the user's message goes into the conversation (type `user`) and
/// to the agent's inbox. `{"idx": N}`.
pub(super) async fn chat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json(&app, &headers, body).await?, "chat")?;
    let Some(Value::String(text)) = fields.get("message") else {
        return Err(ApiError::bad_request("chat needs a \"message\" string"));
    };
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("chat message is empty"));
    }
    let message = json!({"type": "user", "content": text});
    let mut cmd = fields;
    // Refused before it joins the conversation: a chat the agent never gets must not look sent.
    cmd.insert("idx".into(), u64::MAX.into());
    app.inbox
        .check(CommandKind::Chat, &cmd)
        .map_err(command_too_large)?;
    let idx = app.hub.append(message).await?;
    cmd.insert("idx".into(), idx.0.into());
    app.inbox
        .push(CommandKind::Chat, cmd)
        .map_err(command_too_large)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"idx": idx.0}).to_string(),
    ))
}

/// `POST /cancel {"reason","tool_call_id"?}`.
pub(super) async fn cancel(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json(&app, &headers, body).await?, "cancel")?;
    if fields.get("reason").is_some_and(|r| !r.is_string()) {
        return Err(ApiError::bad_request("\"reason\" must be a string"));
    }
    let id = app
        .inbox
        .push(CommandKind::Cancel, fields)
        .map_err(command_too_large)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true, "id": id}).to_string(),
    ))
}

/// `POST /restart {"revision","initial_prompt"}`.
pub(super) async fn restart(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json(&app, &headers, body).await?, "restart")?;
    let id = app
        .inbox
        .push(CommandKind::Restart, fields)
        .map_err(command_too_large)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true, "id": id}).to_string(),
    ))
}
