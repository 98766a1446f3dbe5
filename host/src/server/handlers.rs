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

/// How long `GET /state?poll=true` waits, as sketch's server did.
const STATE_POLL: std::time::Duration = std::time::Duration::from_secs(90);

/// `GET /state` (`?poll=true&seen=N`: first wait, up to 90 s, until the log holds more than
/// `N` messages; without `seen`, more than it holds now).
pub(super) async fn state(
    State(app): State<Arc<App>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(q)?;
    let get = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    if get("poll").is_some_and(|p| p == "true") {
        let seen = match get("seen").filter(|v| !v.is_empty()) {
            None => app.hub.message_count().0,
            Some(v) => {
                parse_index(v)
                    .map_err(|e| ApiError::bad_request(format!("bad seen {v:?}: {e}")))?
                    .0
            }
        };
        let mut closing = app.closing.clone();
        tokio::select! {
            () = app.hub.wait_for_more_than(seen, STATE_POLL) => {}
            _ = closing.wait_for(|c| *c) => {}
        }
    }
    Ok(json_response(StatusCode::OK, app.hub.state_json()))
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

/// `GET /download`: the whole conversation as a file, in sketch's shape and name:
/// `sketch-YYYYMMDD-HHMMSS.json` holding `{"messages":[…],"message_count":N,"total_usage":{…},
/// "hostname":…,"working_dir":…,"download_time":RFC 3339}` (plus `"state"`, the whole State).
pub(super) async fn download(State(app): State<Arc<App>>) -> Response {
    let end = app.hub.message_count();
    let state: Value = serde_json::from_slice(&app.hub.state_json()).unwrap_or(Value::Null);
    let now = crate::model::now_rfc3339();
    let tail = json!({
        "message_count": end.0,
        "total_usage": state.get("total_usage").cloned().unwrap_or(Value::Null),
        "hostname": state.get("hostname").cloned().unwrap_or(Value::Null),
        "working_dir": state.get("working_dir").cloned().unwrap_or(Value::Null),
        "download_time": now,
        "state": state,
    })
    .to_string();
    // `{"message_count":…}` → `,"message_count":…}` after the array.
    let suffix = format!(",{}", tail.strip_prefix('{').unwrap_or(&tail));
    let mut res = json_response(
        StatusCode::OK,
        json_array_body(
            app,
            Seq::ZERO,
            end,
            Bytes::from_static(b"{\"messages\":"),
            Bytes::from(suffix),
        ),
    );
    // 2026-12-02T13:46:49.123Z → sketch-20261202-134649.json
    let stamp: String = now
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .enumerate()
        .flat_map(|(i, c)| (i == 8).then_some('-').into_iter().chain([c]))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"sketch-{stamp}.json\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
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
    parse_json(&read_body(app, headers, body).await?)
}

/// [`read_json`], where an empty body means `{}` (sketch's `/cancel` takes none).
async fn read_json_or_empty(app: &App, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(app, headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    parse_json(&bytes)
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// A request body of at most `--max-body` bytes (413 beyond).
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
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
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if over {
            too_large()
        } else {
            ApiError::bad_request(format!("could not read the body: {e}"))
        }
    })
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
    let idx = send_chat(&app, fields).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({"idx": idx.0}).to_string(),
    ))
}

/// The user's chat: into the conversation (type `user`), then to the agent's inbox.
async fn send_chat(app: &App, fields: Map<String, Value>) -> Result<Seq, ApiError> {
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
    Ok(idx)
}

/// `POST /cancel {"reason"?,"tool_call_id"?}`; an empty body cancels the turn (as sketch's).
pub(super) async fn cancel(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json_or_empty(&app, &headers, body).await?, "cancel")?;
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

/// `POST /restart {"revision"?,"initial_prompt"?}`, as sketch's: "Conversation restarted." is
/// appended and starts the conversation (`first_message_index`), the agent gets a `restart`
/// command, and a non-empty `initial_prompt` is then sent as the user's first chat.
/// `{"status":"restarted"}`.
pub(super) async fn restart(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json_or_empty(&app, &headers, body).await?, "restart")?;
    for key in ["revision", "initial_prompt"] {
        if fields
            .get(key)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(ApiError::bad_request(format!("\"{key}\" must be a string")));
        }
    }
    let prompt = fields
        .get("initial_prompt")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned);
    let idx = app.hub.restart_conversation().await?;
    let mut cmd = fields;
    cmd.insert("idx".into(), idx.0.into());
    let id = app
        .inbox
        .push(CommandKind::Restart, cmd)
        .map_err(command_too_large)?;
    if let Some(text) = prompt {
        send_chat(
            &app,
            Map::from_iter([("message".to_owned(), Value::String(text))]),
        )
        .await?;
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"status": "restarted", "id": id}).to_string(),
    ))
}

/// `GET /suggest-reprompt`: the agent's suggestion, `{"prompt"}` (sketch's).
pub(super) async fn suggest_reprompt(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    ask(&app, CommandKind::SuggestReprompt, Map::new(), "prompt").await
}

/// `GET /commit-description?revision=R`: the agent's one-line description of a commit,
/// `{"description"}` (sketch's).
pub(super) async fn commit_description(
    State(app): State<Arc<App>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(q)?;
    let revision = params
        .iter()
        .rev()
        .find(|(k, _)| k == "revision")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing revision parameter"))?;
    let fields = Map::from_iter([("revision".to_owned(), Value::String(revision))]);
    ask(&app, CommandKind::CommitDescription, fields, "description").await
}

/// Puts a question in the agent's inbox and waits for its answer's `key` string.
async fn ask(
    app: &App,
    kind: CommandKind,
    fields: Map<String, Value>,
    key: &str,
) -> Result<Response, ApiError> {
    let (_, pending) = app
        .inbox
        .push_then(kind, fields, |id| app.replies.register(id))
        .map_err(command_too_large)?;
    let pending = pending.map_err(|e| ApiError::unavailable(e.to_string(), 5))?;
    let mut closing = app.closing.clone();
    let reply = tokio::select! {
        r = pending.answer() => r,
        _ = closing.wait_for(|c| *c) => Err(crate::replies::ReplyError::NoAnswer),
    }
    .map_err(|e| ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()))?;
    match reply.get(key) {
        Some(Value::String(text)) => Ok(json_response(
            StatusCode::OK,
            json!({ key: text }).to_string(),
        )),
        _ => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the agent's answer has no \"{key}\" string"),
        )),
    }
}

/// `POST /api/replies {"id":N,…}`: an HTTP agent answers inbox question `N`.
pub(super) async fn reply(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = object(read_json(&app, &headers, body).await?, "reply")?;
    let Some(id) = fields.get("id").and_then(Value::as_u64) else {
        return Err(ApiError::bad_request("a reply needs the question's \"id\""));
    };
    if !app.replies.answer(id, fields) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no question {id} is waiting for an answer"),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true}).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::server::{Server, ServerConfig, Store};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// With no agent to answer, a question ends in 504 after `REPLY_WAIT` (30 s, on a paused
    /// clock here) rather than hanging.
    #[tokio::test(start_paused = true)]
    async fn a_question_nobody_answers_is_504_after_the_reply_wait() {
        let config = ServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            store: Store::Memory,
            ..ServerConfig::default()
        };
        let server = Server::start(config).await.unwrap();
        for path in ["/suggest-reprompt", "/commit-description?revision=abc"] {
            let mut s = tokio::net::TcpStream::connect(server.local_addr())
                .await
                .unwrap();
            let req =
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut res = String::new();
            s.read_to_string(&mut res).await.unwrap();
            assert!(res.starts_with("HTTP/1.1 504"), "{path}: {res}");
            assert!(res.contains("\"error\""), "{path}: {res}");
        }
        server.shutdown().await.unwrap();
    }
}
