//! Durable Streams (durable-streams/durable-streams `PROTOCOL.md`) under `/v1/stream/{path}`:
//! many append-only streams, each a URL, with catch-up, long-poll and SSE reads.
//!
//! This module moves bytes. Offsets, where a read starts, whether it is up to date, the live
//! cursor and producer fencing are `sse_core::durable`'s; the SSE frames come from
//! sse-core's encoder; the append rules every store shares are [`store::Meta::admit`].
//! Writes (`PUT`, `POST`, `DELETE`) take the server's write token and the same-origin check;
//! reads take the read token when reads are protected, like `/stream`.

mod file;
mod memory;
mod redis;
pub mod store;

pub use file::{FileError, OpenReport};
pub use memory::MemoryStreams;
pub use redis::RedisStreams;
pub use store::Streams;

use crate::server::{ServerConfig, guard};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::value::RawValue;
use sse_core::durable::{self, Control, Live, Offset, Read, Start, Tail};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use store::{Append, Appended, Config, Lifetime, Producer, StoreError};

/// The URL prefix of every stream.
pub const PREFIX: &str = "/v1/stream/";

/// Durable Streams tuning (`serve --durable-*`).
#[derive(Debug, Clone, clap::Args)]
pub struct DurableArgs {
    /// Durable Streams: how long a `live=long-poll` read waits for data before 204.
    #[arg(long = "durable-long-poll", env = "SSE_DURABLE_LONG_POLL", default_value = "10s", value_name = "DUR", value_parser = humantime::parse_duration)]
    pub long_poll: Duration,
    /// Durable Streams: most streams held at once; creating another gets 507.
    #[arg(
        long = "durable-max-streams",
        env = "SSE_DURABLE_MAX_STREAMS",
        default_value_t = 10_000,
        value_name = "N"
    )]
    pub max_streams: usize,
}

impl Default for DurableArgs {
    fn default() -> Self {
        DurableArgs {
            long_poll: Duration::from_secs(10),
            max_streams: 10_000,
        }
    }
}

/// The bounds.
#[derive(Debug, Clone)]
pub struct DurableConfig {
    /// Tuning from the command line.
    pub args: DurableArgs,
    /// Largest request body (413 beyond).
    pub max_body: usize,
    /// Largest stream, in stored bytes.
    pub max_stream_bytes: u64,
    /// All streams' stored bytes together (the memory store's footprint).
    pub max_total_bytes: u64,
    /// Largest catch-up response body (64 KiB: clients that spread a chunk into call
    /// arguments, as the conformance suite does, overflow their stack near 100 KiB).
    pub max_chunk: usize,
    /// An SSE response ends after this long, so that caches can collapse (`PROTOCOL.md` §10.2).
    pub sse_lifetime: Duration,
}

impl Default for DurableConfig {
    fn default() -> Self {
        DurableConfig {
            args: DurableArgs::default(),
            max_body: 8 << 20,
            max_stream_bytes: 256 << 20,
            max_total_bytes: 1 << 30,
            max_chunk: 64 << 10,
            sse_lifetime: Duration::from_secs(60),
        }
    }
}

struct Ds {
    config: DurableConfig,
    access: Arc<ServerConfig>,
    store: Streams,
}

/// The router for `/v1/stream/{*path}` over `store`; `access` holds the server's tokens and
/// origin rules.
pub fn router(config: DurableConfig, access: Arc<ServerConfig>, store: Streams) -> Router {
    Router::new()
        .route("/v1/stream/{*path}", any(handle))
        .with_state(Arc::new(Ds {
            config,
            access,
            store,
        }))
}

const STREAM_NEXT_OFFSET: &str = "stream-next-offset";
const STREAM_UP_TO_DATE: &str = "stream-up-to-date";
const STREAM_CLOSED: &str = "stream-closed";
const STREAM_CURSOR: &str = "stream-cursor";
const STREAM_TTL: &str = "stream-ttl";
const STREAM_EXPIRES_AT: &str = "stream-expires-at";
const STREAM_SEQ: &str = "stream-seq";
const PRODUCER_ID: &str = "producer-id";
const PRODUCER_EPOCH: &str = "producer-epoch";
const PRODUCER_SEQ: &str = "producer-seq";

/// An error as the rest of the server shows them: a status, `{"error": …}`, and the headers
/// the protocol asks for.
struct DsError {
    status: StatusCode,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl DsError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        DsError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

impl IntoResponse for DsError {
    fn into_response(self) -> Response {
        let mut res = crate::server::ApiError::new(self.status, self.message).into_response();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.headers_mut().insert(HeaderName::from_static(k), v);
            }
        }
        res
    }
}

impl From<StoreError> for DsError {
    fn from(e: StoreError) -> Self {
        let msg = e.to_string();
        match e {
            StoreError::NotFound => DsError::new(StatusCode::NOT_FOUND, msg),
            StoreError::ConfigMismatch
            | StoreError::ContentTypeMismatch { .. }
            | StoreError::SeqRegression { .. } => DsError::new(StatusCode::CONFLICT, msg),
            StoreError::Closed { tail } => DsError::new(StatusCode::CONFLICT, msg)
                .with(STREAM_CLOSED, "true")
                .with(STREAM_NEXT_OFFSET, tail.next),
            StoreError::StaleEpoch { current } => {
                DsError::new(StatusCode::FORBIDDEN, msg).with(PRODUCER_EPOCH, current)
            }
            StoreError::NewEpochNotAtZero => DsError::bad(msg),
            StoreError::Gap { expected, received } => DsError::new(StatusCode::CONFLICT, msg)
                .with("producer-expected-seq", expected)
                .with("producer-received-seq", received),
            StoreError::TooManyStreams { .. } | StoreError::StoreFull { .. } => {
                DsError::new(StatusCode::INSUFFICIENT_STORAGE, msg)
            }
            StoreError::Gone => DsError::new(StatusCode::GONE, msg),
            StoreError::TooManyProducers => DsError::new(StatusCode::TOO_MANY_REQUESTS, msg),
            StoreError::SourceGone => DsError::new(StatusCode::CONFLICT, msg),
            StoreError::ForkBeyondTail | StoreError::SubOffsetOvershoot => DsError::bad(msg),
            StoreError::Io(_) => DsError::new(StatusCode::INTERNAL_SERVER_ERROR, msg),
            StoreError::Unavailable(_) => DsError::new(StatusCode::SERVICE_UNAVAILABLE, msg),
            StoreError::StreamFull { .. } | StoreError::OffsetOverflow => {
                DsError::new(StatusCode::PAYLOAD_TOO_LARGE, msg)
            }
        }
    }
}

async fn handle(State(ds): State<Arc<Ds>>, req: Request) -> Response {
    // The path as sent (still percent-encoded: one stream, one spelling), after the prefix.
    let Some(path) = req
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
    else {
        return DsError::new(StatusCode::NOT_FOUND, "no stream path").into_response();
    };
    let method = req.method().clone();
    let write = matches!(method, Method::PUT | Method::POST | Method::DELETE);
    if method == Method::OPTIONS {
        return preflight();
    }
    if let Some(refused) = refusal(&ds.access, &req, write) {
        return refused;
    }
    let result = match method {
        Method::PUT => create(&ds, &path, req).await,
        Method::POST => append(&ds, &path, req).await,
        Method::DELETE => ds
            .store
            .delete(&path, SystemTime::now())
            .await
            .map(|()| StatusCode::NO_CONTENT.into_response())
            .map_err(DsError::from),
        Method::HEAD => head(&ds, &path).await,
        Method::GET => read(&ds, &path, req).await,
        Method::OPTIONS => Ok(preflight()),
        _ => Err(DsError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use PUT, POST, GET, HEAD or DELETE",
        )),
    };
    let mut res = result.unwrap_or_else(IntoResponse::into_response);
    res.headers_mut().insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// A CORS preflight names what a cross-origin read may send; it grants no origin (that
/// stays `--cors-origin`'s).
fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    set(&mut res, "allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    set(
        &mut res,
        "access-control-allow-methods",
        "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    );
    set(
        &mut res,
        "access-control-allow-headers",
        "authorization, content-type, if-none-match, stream-closed, stream-seq, stream-ttl, \
         stream-expires-at, producer-id, producer-epoch, producer-seq",
    );
    res
}

/// The last `access_token` of the query (RFC 6750 §2.3, for `EventSource`), as on `/stream`.
fn access_token(req: &Request) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "access_token")
        .last()
        .map(|(_, v)| v.into_owned())
}

/// The refusal, if the request may not do what it asks.
fn refusal(access: &ServerConfig, req: &Request, write: bool) -> Option<Response> {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if write {
        if let Err(e) =
            guard::check_same_origin(access, req.headers(), crate::server::request_host(req))
        {
            return Some(e.into_response());
        }
        if !guard::write_allowed(access, auth) {
            return Some(guard::unauthorized(false));
        }
    } else if !guard::read_allowed(
        access,
        auth,
        access_token(req).as_deref().map(str::as_bytes),
    ) {
        return Some(guard::unauthorized(true));
    }
    None
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, DsError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| DsError::bad(format!("{name} is not visible ASCII")))
        })
        .transpose()
}

/// `Stream-Closed: true` in any case; any other value is as if absent (`PROTOCOL.md` §4.1).
fn closed_header(headers: &HeaderMap) -> bool {
    headers
        .get(STREAM_CLOSED)
        .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"true"))
}

/// A non-negative decimal without sign, leading zeros or fraction.
fn strict_decimal(s: &str, max: u64) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse::<u64>().ok())
        .flatten()
        .filter(|n| *n <= max)
}

async fn body(ds: &Ds, req: Request) -> Result<Bytes, DsError> {
    axum::body::to_bytes(req.into_body(), ds.config.max_body)
        .await
        .map_err(|_| {
            DsError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {} bytes", ds.config.max_body),
            )
        })
}

/// A body as stored items: JSON mode flattens one array level (`PROTOCOL.md` §9.1.2) and
/// validates; other types are one item.
fn items(json: bool, body: Bytes, allow_empty_array: bool) -> Result<Vec<Bytes>, DsError> {
    if !json {
        return Ok(if body.is_empty() {
            Vec::new()
        } else {
            vec![body]
        });
    }
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let raw: &RawValue =
        serde_json::from_slice(&body).map_err(|e| DsError::bad(format!("invalid JSON: {e}")))?;
    if raw.get().starts_with('[') {
        let elems: Vec<&RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| DsError::bad(format!("invalid JSON: {e}")))?;
        if elems.is_empty() && !allow_empty_array {
            return Err(DsError::bad("an empty JSON array appends nothing"));
        }
        Ok(elems
            .into_iter()
            .map(|e| Bytes::copy_from_slice(e.get().as_bytes()))
            .collect())
    } else {
        Ok(vec![Bytes::copy_from_slice(raw.get().as_bytes())])
    }
}

fn lifetime(headers: &HeaderMap) -> Result<(Lifetime, Option<String>), DsError> {
    let ttl = header_str(headers, STREAM_TTL)?;
    let at = header_str(headers, STREAM_EXPIRES_AT)?;
    match (ttl, at) {
        (Some(_), Some(_)) => Err(DsError::bad(
            "send Stream-TTL or Stream-Expires-At, not both",
        )),
        (Some(t), None) => strict_decimal(t.trim(), u64::from(u32::MAX))
            .map(|s| (Lifetime::Ttl(s), None))
            .ok_or_else(|| {
                DsError::bad(format!("Stream-TTL {t:?} is not a whole number of seconds"))
            }),
        (None, Some(a)) => humantime::parse_rfc3339_weak(a.trim())
            .or_else(|_| humantime::parse_rfc3339(a.trim()))
            .map(|at| (Lifetime::ExpiresAt(at), Some(a.trim().to_owned())))
            .map_err(|_| DsError::bad(format!("Stream-Expires-At {a:?} is not an RFC 3339 time"))),
        (None, None) => Ok((Lifetime::Forever, None)),
    }
}

fn set(res: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        res.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn content_type_value(ct: &str) -> HeaderValue {
    HeaderValue::from_str(ct).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

async fn create(ds: &Ds, path: &str, req: Request) -> Result<Response, DsError> {
    let headers = req.headers().clone();
    let host = crate::server::request_host(&req).map(str::to_owned);
    let fork = fork_spec(&headers)?;
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str())?
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // A fork without a Content-Type inherits its source's (the store fills it in).
    let content_type = match (content_type, &fork) {
        (Some(t), _) => t.to_owned(),
        (None, Some(_)) => String::new(),
        (None, None) => "application/octet-stream".to_owned(),
    };
    let (lifetime, expires_at_text) = lifetime(&headers)?;
    let closed = closed_header(&headers);
    let json = durable::is_json(&content_type);
    let inherit_json = fork.is_some() && content_type.is_empty();
    let body = body(ds, req).await?;
    let json_body = if inherit_json {
        // The source's type decides; a fork's initial body is read once that is known.
        let source = fork.as_ref().map_or("", |f| f.source.as_str());
        ds.store
            .meta(source, SystemTime::now())
            .await
            .is_ok_and(|m| m.config.json)
    } else {
        json
    };
    let items = items(json_body, body, true)?;
    let config = Config {
        content_type,
        json,
        lifetime,
        expires_at_text,
        fork,
    };
    let (meta, created) = ds
        .store
        .create(path, config, items, closed, SystemTime::now())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = status.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        content_type_value(&meta.config.content_type),
    );
    set(&mut res, STREAM_NEXT_OFFSET, meta.tail.next);
    if meta.tail.closed {
        set(&mut res, STREAM_CLOSED, "true");
    }
    if created {
        // Absolute (clients resolve it with `new URL`); the host is one the guard accepted.
        let location = match host {
            Some(h) => format!("http://{h}{PREFIX}{path}"),
            None => format!("{PREFIX}{path}"),
        };
        set(&mut res, "location", location);
    }
    Ok(res)
}

/// `Stream-Forked-From`, `Stream-Fork-Offset`, `Stream-Fork-Sub-Offset` (`PROTOCOL.md` §4.2).
fn fork_spec(headers: &HeaderMap) -> Result<Option<store::ForkSpec>, DsError> {
    let from = header_str(headers, "stream-forked-from")?.map(str::trim);
    let offset = header_str(headers, "stream-fork-offset")?.map(str::trim);
    let sub = header_str(headers, "stream-fork-sub-offset")?.map(str::trim);
    let Some(from) = from else {
        if offset.is_some() || sub.is_some() {
            return Err(DsError::bad(
                "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From",
            ));
        }
        return Ok(None);
    };
    let source = from.strip_prefix(PREFIX).unwrap_or(from);
    if source.is_empty() {
        return Err(DsError::bad("Stream-Forked-From names no stream"));
    }
    let offset = offset
        .map(|o| Offset::parse(o).map_err(|e| DsError::bad(format!("Stream-Fork-Offset: {e}"))))
        .transpose()?;
    let sub = match sub {
        None => 0,
        Some(v) => strict_decimal(v, durable::OFFSET_PART_MAX).ok_or_else(|| {
            DsError::bad(format!(
                "Stream-Fork-Sub-Offset {v:?} is not a non-negative integer"
            ))
        })?,
    };
    if sub > 0 && offset.is_none() {
        return Err(DsError::bad(
            "Stream-Fork-Sub-Offset needs Stream-Fork-Offset",
        ));
    }
    Ok(Some(store::ForkSpec {
        source: source.to_owned(),
        offset,
        sub,
    }))
}

fn producer(headers: &HeaderMap) -> Result<Option<Producer>, DsError> {
    let id = header_str(headers, PRODUCER_ID)?;
    let epoch = header_str(headers, PRODUCER_EPOCH)?;
    let seq = header_str(headers, PRODUCER_SEQ)?;
    match (id, epoch, seq) {
        (None, None, None) => Ok(None),
        (Some(id), Some(epoch), Some(seq)) => {
            if id.trim().is_empty() {
                return Err(DsError::bad("Producer-Id is empty"));
            }
            let num = |name: &str, v: &str| {
                strict_decimal(v.trim(), durable::PRODUCER_MAX).ok_or_else(|| {
                    DsError::bad(format!("{name} {v:?} is not an integer from 0 to 2^53-1"))
                })
            };
            Ok(Some(Producer {
                id: id.to_owned(),
                epoch: num("Producer-Epoch", epoch)?,
                seq: num("Producer-Seq", seq)?,
            }))
        }
        _ => Err(DsError::bad(
            "send Producer-Id, Producer-Epoch and Producer-Seq together",
        )),
    }
}

async fn append(ds: &Ds, path: &str, req: Request) -> Result<Response, DsError> {
    let headers = req.headers().clone();
    let close = closed_header(&headers);
    let producer = producer(&headers)?;
    let seq = header_str(&headers, STREAM_SEQ)?.map(str::to_owned);
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str())?.map(str::to_owned);
    let body = body(ds, req).await?;
    let now = SystemTime::now();
    let meta = ds.store.meta(path, now).await?;
    if body.is_empty() && !close {
        return Err(DsError::bad("an empty body appends nothing"));
    }
    if !body.is_empty() && content_type.is_none() && !meta.tail.closed {
        return Err(DsError::bad("Content-Type is required with a body"));
    }
    // Content type before JSON validation: a mismatch is 409 whatever the body is.
    let json = meta.config.json && content_type.as_deref().is_none_or(durable::is_json);
    let items = if meta.tail.closed {
        if body.is_empty() {
            Vec::new()
        } else {
            vec![body]
        }
    } else {
        items(json, body, false)?
    };
    let has_producer = producer.is_some();
    let has_items = !items.is_empty();
    let req = Append {
        content_type,
        items,
        close,
        seq,
        producer,
    };
    let (status, tail, state) = match ds.store.append(path, req, now).await? {
        Appended::Done { tail, producer } => (
            if has_producer && has_items {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            },
            tail,
            producer,
        ),
        Appended::Duplicate { tail, producer } => (StatusCode::NO_CONTENT, tail, producer),
    };
    let mut res = status.into_response();
    set(&mut res, STREAM_NEXT_OFFSET, tail.next);
    if tail.closed {
        set(&mut res, STREAM_CLOSED, "true");
    }
    if let Some(s) = state {
        set(&mut res, PRODUCER_EPOCH, s.epoch);
        set(&mut res, PRODUCER_SEQ, s.last_seq);
    }
    Ok(res)
}

fn lifetime_headers(res: &mut Response, meta: &store::Meta) {
    match meta.config.lifetime {
        Lifetime::Forever => {}
        Lifetime::Ttl(secs) => set(res, STREAM_TTL, secs),
        Lifetime::ExpiresAt(at) => set(
            res,
            STREAM_EXPIRES_AT,
            meta.config
                .expires_at_text
                .clone()
                .unwrap_or_else(|| humantime::format_rfc3339(at).to_string()),
        ),
    }
}

async fn head(ds: &Ds, path: &str) -> Result<Response, DsError> {
    let meta = ds.store.meta(path, SystemTime::now()).await?;
    let mut res = StatusCode::OK.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        content_type_value(&meta.config.content_type),
    );
    set(&mut res, STREAM_NEXT_OFFSET, meta.tail.next);
    if meta.tail.closed {
        set(&mut res, STREAM_CLOSED, "true");
    }
    lifetime_headers(&mut res, &meta);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The query of a read.
struct ReadQuery {
    start: Start,
    live: Live,
    cursor: Option<u64>,
    offset_given: bool,
}

fn read_query(req: &Request) -> Result<ReadQuery, DsError> {
    let q = req.uri().query().unwrap_or("");
    let (mut offset, mut live, mut cursor) = (None, None, None);
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "offset" => offset = Some(v.into_owned()),
            "live" => live = Some(v.into_owned()),
            "cursor" => cursor = Some(v.into_owned()),
            _ => {}
        }
    }
    let start = Start::parse(offset.as_deref()).map_err(|e| DsError::bad(e.to_string()))?;
    let live =
        Live::parse(live.as_deref()).map_err(|()| DsError::bad("live must be long-poll or sse"))?;
    Ok(ReadQuery {
        start,
        live,
        cursor: cursor.and_then(|c| c.parse().ok()),
        offset_given: offset.is_some(),
    })
}

fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 1..=3600 seconds of jitter for a cursor (not security-relevant).
fn jitter(now: SystemTime) -> u64 {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    1 + nanos % 3600
}

fn next_cursor(client: Option<u64>) -> u64 {
    let now = SystemTime::now();
    durable::cursor(unix_secs(now), client, jitter(now))
}

/// The body of a chunk: JSON mode wraps messages in one array.
fn chunk_body(json: bool, items: &[Bytes]) -> Bytes {
    if !json {
        return match items {
            [one] => one.clone(),
            _ => items.concat().into(),
        };
    }
    let len: usize = items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    out.into()
}

async fn read(ds: &Ds, path: &str, req: Request) -> Result<Response, DsError> {
    let q = read_query(&req)?;
    let headers = req.headers().clone();
    drop(req);
    if q.live != Live::CatchUp && !q.offset_given {
        return Err(DsError::bad("a live read needs an offset"));
    }
    let now = SystemTime::now();
    let meta = ds.store.meta(path, now).await?;
    let decision = Read::decide(q.start, meta.tail).map_err(|e| DsError::bad(e.to_string()))?;
    match q.live {
        Live::Sse => sse(ds, path, decision, q.cursor).await,
        Live::CatchUp => catch_up(ds, path, decision, &q, &headers, now).await,
        Live::LongPoll => long_poll(ds, path, decision, &q, &headers).await,
    }
}

fn etag(meta: &store::Meta, from: Offset, to: Offset, closed: bool) -> String {
    format!(
        "\"{}:{from}:{to}{}\"",
        meta.generation,
        if closed { ":c" } else { "" }
    )
}

fn data_response(
    ds: &Ds,
    chunk: &store::Chunk,
    from: Offset,
    headers: &HeaderMap,
    cursor: Option<u64>,
) -> Response {
    let after = Read::after(chunk.next, chunk.meta.tail);
    let closed = matches!(after, Read::Closed { .. });
    let tag = etag(&chunk.meta, from, chunk.next, closed);
    let matched = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if matched {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Body::from(chunk_body(chunk.meta.config.json, &chunk.items)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type_value(&chunk.meta.config.content_type),
        );
        r
    };
    set(&mut res, "etag", tag);
    set(&mut res, STREAM_NEXT_OFFSET, chunk.next);
    if !matches!(after, Read::Data { .. }) {
        set(&mut res, STREAM_UP_TO_DATE, "true");
    }
    if closed {
        set(&mut res, STREAM_CLOSED, "true");
    } else if let Some(c) = cursor {
        set(&mut res, STREAM_CURSOR, c);
    }
    let scope = if guard::reads_protected(&ds.access) {
        "private"
    } else {
        "public"
    };
    set(
        &mut res,
        "cache-control",
        format!("{scope}, max-age=60, stale-while-revalidate=300"),
    );
    lifetime_headers(&mut res, &chunk.meta);
    res
}

async fn catch_up(
    ds: &Ds,
    path: &str,
    decision: Read,
    q: &ReadQuery,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Response, DsError> {
    let from = match decision {
        Read::Data { from } => from,
        Read::UpToDate { at } | Read::Closed { at } => at,
    };
    let chunk = ds.store.read(path, from, ds.config.max_chunk, now).await?;
    let mut res = data_response(ds, &chunk, from, headers, None);
    if q.start == Start::Now {
        res.headers_mut().remove(header::ETAG);
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

async fn long_poll(
    ds: &Ds,
    path: &str,
    decision: Read,
    q: &ReadQuery,
    headers: &HeaderMap,
) -> Result<Response, DsError> {
    let cursor = next_cursor(q.cursor);
    let at = match decision {
        Read::Data { from } => {
            let chunk = ds
                .store
                .read(path, from, ds.config.max_chunk, SystemTime::now())
                .await?;
            return Ok(data_response(ds, &chunk, from, headers, Some(cursor)));
        }
        Read::Closed { at } => {
            return Ok(no_content(
                Tail {
                    next: at,
                    closed: true,
                },
                cursor,
            ));
        }
        Read::UpToDate { at } => at,
    };
    let mut rx = ds.store.watch(path, SystemTime::now()).await?;
    // Reading the tail again under the watch closes the window between `meta` and `watch`.
    let deadline = tokio::time::Instant::now() + ds.config.args.long_poll;
    loop {
        let tail = *rx.borrow_and_update();
        if tail.next > at {
            let chunk = ds
                .store
                .read(path, at, ds.config.max_chunk, SystemTime::now())
                .await?;
            return Ok(data_response(ds, &chunk, at, headers, Some(cursor)));
        }
        if tail.closed {
            return Ok(no_content(tail, cursor));
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(StoreError::NotFound.into()),
            Err(_) => return Ok(no_content(tail, cursor)),
        }
    }
}

fn no_content(tail: Tail, cursor: u64) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    set(&mut res, STREAM_NEXT_OFFSET, tail.next);
    set(&mut res, STREAM_UP_TO_DATE, "true");
    if tail.closed {
        set(&mut res, STREAM_CLOSED, "true");
    } else {
        set(&mut res, STREAM_CURSOR, cursor);
    }
    res
}

fn encode(name: sse_core::event::EventName<'_>, data: &str, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + durable::event_len(name, data), 0);
    match durable::encode_event(name, data, &mut out[start..]) {
        Ok(n) => out.truncate(start + n),
        Err(_) => out.truncate(start),
    }
}

/// One `data` event (when there are items) and its `control` event.
fn sse_batch(json: bool, text: bool, items: &[Bytes], control: Control) -> Bytes {
    let mut out = Vec::new();
    if !items.is_empty() {
        let body = chunk_body(json, items);
        let data = if text {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(&body)
        };
        encode(durable::DATA, &data, &mut out);
    }
    let mut buf = [0u8; durable::CONTROL_MAX];
    if let Ok(json) = control.write_json(&mut buf) {
        encode(durable::CONTROL, json, &mut out);
    }
    out.into()
}

struct SseState {
    store: Streams,
    path: String,
    pos: Offset,
    rx: Option<tokio::sync::watch::Receiver<Tail>>,
    cursor: Option<u64>,
    told_up_to_date: bool,
    done: bool,
    deadline: tokio::time::Instant,
    max_chunk: usize,
    json: bool,
    text: bool,
}

async fn sse(
    ds: &Ds,
    path: &str,
    decision: Read,
    cursor: Option<u64>,
) -> Result<Response, DsError> {
    let now = SystemTime::now();
    let rx = ds.store.watch(path, now).await?;
    let meta = ds.store.meta(path, now).await?;
    let pos = match decision {
        Read::Data { from } => from,
        Read::UpToDate { at } | Read::Closed { at } => at,
    };
    let text = durable::sse_is_text(&meta.config.content_type);
    let state = SseState {
        store: ds.store.clone(),
        path: path.to_owned(),
        pos,
        rx: Some(rx),
        cursor,
        told_up_to_date: false,
        done: false,
        deadline: tokio::time::Instant::now() + ds.config.sse_lifetime,
        max_chunk: ds.config.max_chunk,
        json: meta.config.json,
        text,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        let bytes = sse_step(&mut s).await?;
        Some((Ok::<Bytes, std::convert::Infallible>(bytes), s))
    });
    let mut res = Body::from_stream(stream).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if !text {
        set(&mut res, "stream-sse-data-encoding", "base64");
    }
    Ok(res)
}

/// The next bytes of an SSE response, or `None` to end it.
async fn sse_step(s: &mut SseState) -> Option<Bytes> {
    loop {
        if s.done {
            return None;
        }
        if let Some(rx) = s.rx.as_mut() {
            rx.borrow_and_update();
        }
        let chunk = s
            .store
            .read(&s.path, s.pos, s.max_chunk, SystemTime::now())
            .await
            .ok()?;
        let after = Read::after(chunk.next, chunk.meta.tail);
        let fresh = !chunk.items.is_empty();
        if fresh || !s.told_up_to_date || matches!(after, Read::Closed { .. }) {
            let closed = matches!(after, Read::Closed { .. });
            let up_to_date = !matches!(after, Read::Data { .. });
            let cursor = next_cursor(s.cursor);
            s.cursor = Some(cursor);
            let control = Control {
                next: chunk.next,
                cursor: (!closed).then_some(cursor),
                up_to_date,
                closed,
            };
            s.pos = chunk.next;
            s.told_up_to_date = up_to_date;
            s.done = closed;
            return Some(sse_batch(s.json, s.text, &chunk.items, control));
        }
        let rx = s.rx.as_mut()?;
        match tokio::time::timeout_at(s.deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests;
