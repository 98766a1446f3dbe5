//! Helpers for the `serve` tests: start `sse_host::server::Server` in-process on
//! 127.0.0.1:0, make plain HTTP requests, and read `/stream` with `sse-core`'s parser.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sse_core::parse::{Parser, Step};
use sse_host::agent::Agent;
use sse_host::server::{Server, ServerConfig, Store};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Every wait in these helpers is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);

/// A config for tests: port 0, memory store, no agent, a heartbeat that never fires.
#[must_use]
pub fn config() -> ServerConfig {
    let mut c = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        store: Store::Memory,
        agent: Agent::None,
        ..ServerConfig::default()
    };
    c.hub.heartbeat = Duration::from_secs(3600);
    c
}

/// The same with the durable file log in `dir`.
#[must_use]
pub fn file_config(dir: &Path) -> ServerConfig {
    ServerConfig {
        store: Store::File(dir.to_owned()),
        ..config()
    }
}

/// Starts a server.
///
/// # Panics
/// If it cannot start (tests only).
pub async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

/// A finished HTTP exchange.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Bytes>,
    headers: &[(&str, &str)],
) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path);
    let given = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    // A test that sets (or drops, with an empty value) Host or Content-Type itself gets its own.
    if !given("host") {
        req = req.header("host", addr.to_string());
    }
    // Writes must be JSON; an empty POST is sent as JSON too, as the web UI and `publish` do.
    if !given("content-type") && (body.is_some() || method == "POST" || method == "PATCH") {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers.iter().filter(|(_, v)| !v.is_empty()) {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body.unwrap_or_default()))
        .expect("request");
    tokio::time::timeout(WAIT, tx.send_request(req))
        .await
        .expect("answer in time")
        .expect("answer")
}

/// One request; waits for the whole body.
///
/// # Panics
/// On connection failure or timeout.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let res = send(
        addr,
        method,
        path,
        body.map(|b| Bytes::copy_from_slice(b.as_bytes())),
        headers,
    )
    .await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = tokio::time::timeout(WAIT, res.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, None, &[]).await
}

/// `POST /api/messages`; returns the idx.
///
/// # Panics
/// Unless the server answers 200 with `{"idx":N}`.
pub async fn append(addr: SocketAddr, message: &Value) -> u64 {
    let r = request(
        addr,
        "POST",
        "/api/messages",
        Some(&message.to_string()),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["idx"].as_u64().expect("idx")
}

/// Opens `path` and returns the raw response, for tests that compare the exact bytes on the wire.
pub async fn open_raw(addr: SocketAddr, path: &str) -> hyper::Response<Incoming> {
    send(addr, "GET", path, None, &[]).await
}

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ev {
    /// Event type.
    pub event: String,
    /// Data.
    pub data: String,
    /// The last event ID after this event.
    pub last_event_id: String,
}

impl Ev {
    /// Data as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }

    /// A `message` event's index, checked against its `id:` (`<epoch>-<idx>`, PROTOCOL.md §1).
    ///
    /// # Panics
    /// When it is not a message, or its id and `idx` disagree.
    #[must_use]
    pub fn idx(&self) -> u64 {
        assert_eq!(self.event, "message", "{self:?}");
        let idx = self.json()["idx"].as_u64().expect("idx");
        let (epoch, id) = self
            .last_event_id
            .rsplit_once('-')
            .expect("id: is <epoch>-<idx>");
        assert_eq!(
            (epoch.len(), id),
            (32, idx.to_string().as_str()),
            "id: is <epoch>-<idx>"
        );
        idx
    }
}

/// An open `/stream` (or `/api/inbox`) response, parsed by `sse-core`.
pub struct SseStream {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: hyper::HeaderMap,
    body: Incoming,
    parser: Box<Parser<4096, { 192 * 1024 }>>,
    pending: Bytes,
    /// `retry:` values seen.
    pub retries: Vec<u64>,
}

/// Opens `path` with optional extra headers.
pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> SseStream {
    let res = send(addr, "GET", path, None, headers).await;
    SseStream {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.into_body(),
        parser: Box::new(Parser::new()),
        pending: Bytes::new(),
        retries: Vec::new(),
    }
}

impl SseStream {
    /// The next event, `None` at end of stream. Waits at most `limit`.
    ///
    /// # Panics
    /// On timeout.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Ev> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            while !self.pending.is_empty() {
                let mut rest: &[u8] = &self.pending;
                let step = self.parser.push(&mut rest);
                let consumed = self.pending.len() - rest.len();
                let out = match step {
                    Ok(Step::Event(e)) => Some(Ev {
                        event: e.event_type.to_owned(),
                        data: e.data.to_owned(),
                        last_event_id: e.last_event_id.to_owned(),
                    }),
                    Ok(Step::Retry(d)) => {
                        self.retries.push(d.as_millis());
                        None
                    }
                    Ok(_) => None,
                    Err(e) => panic!("parse error {e:?}"),
                };
                let _ = self.pending.split_to(consumed);
                if out.is_some() {
                    return out;
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("an event in time");
            match frame {
                None | Some(Err(_)) => return None,
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
    }

    /// The next event within [`WAIT`].
    pub async fn next(&mut self) -> Option<Ev> {
        self.next_within(WAIT).await
    }

    /// The next event whose type is `event`, skipping others.
    pub async fn next_of(&mut self, event: &str) -> Option<Ev> {
        loop {
            let ev = self.next().await?;
            if ev.event == event {
                return Some(ev);
            }
        }
    }

    /// `true` when no event arrives within `d`.
    pub async fn quiet_for(&mut self, d: Duration) -> bool {
        tokio::time::timeout(d, self.next_within(d + Duration::from_secs(1)))
            .await
            .is_err()
    }
}
