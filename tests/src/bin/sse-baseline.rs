//! The comparison server for `tests/load/run.sh`: the idiomatic "naive" axum SSE server.
//!
//! Same two endpoints as `sse-host serve` (`POST /api/messages` → `{"idx":N}`, `GET
//! /stream?from=N`), built the way the axum examples build one: a `tokio::sync::broadcast`
//! channel of published messages, one `axum::response::sse::Sse` stream per subscriber, every
//! subscriber formatting its own `Event` for every message, `KeepAlive::default()` as the
//! heartbeat. It is written fairly: messages are shared as `Arc` (no per-subscriber copy of
//! the JSON), the history makes `from=N` resume gap-free, and a lagged receiver skips ahead
//! instead of ending the stream.
//!
//! ```text
//! sse-baseline --bind 127.0.0.1:8090
//! ```

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// Broadcast capacity: a receiver more than this many messages behind skips ahead.
const CHANNEL_CAPACITY: usize = 1024;

/// One published message, shared by every subscriber.
#[derive(Debug)]
struct Msg {
    idx: u64,
    json: String,
}

#[derive(Debug)]
struct AppState {
    /// Every message so far; `history[i].idx == i`. The lock also orders `send`s by idx.
    history: Mutex<Vec<Arc<Msg>>>,
    tx: broadcast::Sender<Arc<Msg>>,
}

async fn post_message(
    State(app): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "body must be a JSON object"})),
        );
    };
    let mut history = app.history.lock().unwrap_or_else(PoisonError::into_inner);
    let idx = history.len() as u64;
    obj.insert("idx".into(), idx.into());
    let msg = Arc::new(Msg {
        idx,
        json: Value::Object(obj).to_string(),
    });
    history.push(Arc::clone(&msg));
    // No receivers is not an error for a broadcast server.
    let _ = app.tx.send(msg);
    (StatusCode::OK, axum::Json(json!({ "idx": idx })))
}

async fn stream_handler(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let from = q
        .get("from")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let (backlog, rx) = {
        let history = app.history.lock().unwrap_or_else(PoisonError::into_inner);
        let backlog = history.get(from..).unwrap_or_default().to_vec();
        (backlog, app.tx.subscribe())
    };
    let live = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(msg) => return Some((msg, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = stream::iter(backlog).chain(live).map(|msg| {
        Ok(Event::default()
            .event("message")
            .id(msg.idx.to_string())
            .data(&msg.json))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn parse_bind() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--bind"), Some(addr)) => addr.parse().map_err(|e| format!("bad --bind: {e}")),
        (None, _) => Ok(SocketAddr::from(([127, 0, 0, 1], 8090))),
        _ => Err("usage: sse-baseline [--bind ADDR]".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = parse_bind()?;
    let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
    let app = Arc::new(AppState {
        history: Mutex::new(Vec::new()),
        tx,
    });
    let router = Router::new()
        .route("/api/messages", post(post_message))
        .route("/stream", get(stream_handler))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!("sse-baseline listening on {}", listener.local_addr()?);
    // TCP_NODELAY as sse-host sets it: small SSE writes must not wait for Nagle.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await?;
    Ok(())
}
