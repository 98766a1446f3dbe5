//! The SSE endpoints. Bodies are pulled: hyper asks for the next chunk when the socket can
//! take it, and the subscription answers with everything ready as one buffer.

use super::{ApiError, App, ConnKill};
use crate::frames;
use crate::hub::{EventFilter, SubscribeError};
use crate::inbox::Command;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, Version, header};
use axum::response::{IntoResponse, Response};
use sse_core::Seq;
use sse_core::event::EventName;
use sse_core::seq::{ResumeError, ResumeRequest, parse_index};
use std::convert::Infallible;
use std::sync::Arc;

type Params = Vec<(String, String)>;

pub(super) fn query(q: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// A `GET /stream` request as both paths read it: hyper's handler ([`stream`]) and
/// `fast_stream::accept`. One reading, so that the two paths cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StreamRequest {
    /// `from`, as `sse_core::seq::parse_from` read it.
    from: Option<Seq>,
    /// The index part of `Last-Event-ID`.
    last_event_id: Option<Seq>,
    /// The epoch the client's copy belongs to (`epoch=` or the one in `Last-Event-ID`).
    epoch: Option<String>,
    /// `events=`.
    pub(super) filter: EventFilter,
}

/// Why a `/stream` request is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum RequestError {
    /// `from`, `epoch` or `Last-Event-ID` is not what PROTOCOL.md §2 allows.
    #[error(
        "bad resume point (from={from:?}, epoch={epoch:?}, Last-Event-ID={last_event_id:?}): {reason}"
    )]
    Resume {
        /// `from` as sent (decoded).
        from: Option<String>,
        /// `epoch` as sent (decoded).
        epoch: Option<String>,
        /// `Last-Event-ID` as sent (lossily decoded).
        last_event_id: Option<String>,
        /// What is wrong.
        reason: ResumeError,
    },
    /// `Last-Event-ID` is not text.
    #[error("Last-Event-ID is not text")]
    LastEventIdNotText,
    /// More than one `Last-Event-ID` header: which one the client meant is unknowable (a proxy
    /// added one, or the client sent two), so neither is guessed.
    #[error("more than one Last-Event-ID header")]
    DuplicateLastEventId,
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl StreamRequest {
    /// Reads the raw query string (percent-encoded, as on the request line) and the headers
    /// (name, value). In the query the last `from` / `epoch` / `events` wins and other keys are
    /// ignored; `Last-Event-ID` may appear at most once, and empty means absent. What the
    /// values mean is `sse_core::seq::ResumeRequest::parse`'s.
    ///
    /// # Errors
    /// [`RequestError`]: the request gets 400.
    pub(super) fn parse<'a>(
        query: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<StreamRequest, RequestError> {
        let (mut from, mut events, mut epoch) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "from" => from = Some(value),
                "events" => events = Some(value),
                "epoch" => epoch = Some(value),
                _ => {}
            }
        }
        let last_event_id = match single_last_event_id(headers)? {
            None => None,
            Some(raw) => {
                Some(std::str::from_utf8(raw).map_err(|_| RequestError::LastEventIdNotText)?)
            }
        };
        let resume = ResumeRequest::parse(from.as_deref(), epoch.as_deref(), last_event_id)
            .map_err(|reason| RequestError::Resume {
                from: from.as_deref().map(str::to_owned),
                epoch: epoch.as_deref().map(str::to_owned),
                last_event_id: last_event_id.map(str::to_owned),
                reason,
            })?;
        let filter = events.map_or(EventFilter::ALL, |e| EventFilter::parse(&e));
        Ok(StreamRequest {
            from: resume.from,
            last_event_id: resume.last_event_id,
            epoch: resume.epoch.map(str::to_owned),
            filter,
        })
    }

    /// The resume request, for `Hub::subscribe`.
    pub(super) fn resume(&self) -> ResumeRequest<'_> {
        ResumeRequest {
            from: self.from,
            last_event_id: self.last_event_id,
            epoch: self.epoch.as_deref(),
        }
    }
}

/// The one `Last-Event-ID` header's raw value; twice is an error.
fn single_last_event_id<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Option<&'a [u8]>, RequestError> {
    let mut found = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("last-event-id") && found.replace(value).is_some() {
            return Err(RequestError::DuplicateLastEventId);
        }
    }
    Ok(found)
}

/// `/api/inbox`'s `Last-Event-ID`: a command id (absent or empty: none).
fn inbox_last_id<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Option<u64>, ApiError> {
    let Some(raw) = single_last_event_id(headers)? else {
        return Ok(None);
    };
    let v = std::str::from_utf8(raw).map_err(|_| RequestError::LastEventIdNotText)?;
    if v.is_empty() {
        return Ok(None);
    }
    parse_index(v)
        .map(|s| Some(s.0))
        .map_err(|e| ApiError::bad_request(format!("bad Last-Event-ID {v:?}: {e}")))
}

/// The headers of a hyper request as [`StreamRequest::parse`] takes them.
fn header_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))
}

fn sse_response(version: Version, body: Body) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if version == Version::HTTP_11 {
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    res
}

/// `GET /stream?from=N&events=a,b` (+ `Last-Event-ID`).
pub(super) async fn stream(
    State(app): State<Arc<App>>,
    version: Version,
    uri: Uri,
    headers: HeaderMap,
    kill: Option<axum::Extension<ConnKill>>,
) -> Result<Response, ApiError> {
    let request = StreamRequest::parse(uri.query().unwrap_or(""), header_pairs(&headers))?;
    let sub = match app
        .hub
        .subscribe(request.resume(), request.filter, kill.map(|k| k.0.0))
    {
        Ok(sub) => sub,
        Err(SubscribeError::TooMany) => return Ok(too_many_subscribers()),
        Err(SubscribeError::Ended) => return Ok(StatusCode::NO_CONTENT.into_response()),
    };
    let body = futures_util::stream::unfold(sub, |mut sub| async move {
        sub.next_batch()
            .await
            .map(|batch| (Ok::<_, Infallible>(batch), sub))
    });
    Ok(sse_response(version, Body::from_stream(body)))
}

/// 503 with `Retry-After` for a subscriber past `max_subscribers`, and `Connection: close`:
/// a connection kept open after the refusal would hold a file descriptor the server has
/// none to spare for (the bound is derived from the fd limit), and the client is told to come
/// back later anyway.
fn too_many_subscribers() -> Response {
    let mut res =
        ApiError::unavailable("too many subscribers; try again later", 10).into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// `GET /api/inbox` (+ `Last-Event-ID`): user commands as SSE, event name = command type.
pub(super) async fn inbox(
    State(app): State<Arc<App>>,
    version: Version,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = inbox_last_id(header_pairs(&headers))?;
    // The `retry:` line goes in the first command's block (never a data-less block of its own).
    let retry = app.hub.retry_line();
    let state = (Arc::clone(&app), last, Some(retry));
    let body = futures_util::stream::unfold(state, |(app, last, opening)| async move {
        let mut closing = app.closing.clone();
        let next = {
            let mut consumer = app.inbox.consumer(last);
            tokio::select! {
                cmd = consumer.next() => cmd,
                _ = closing.wait_for(|c| *c) => None,
            }
        }?;
        let frame = match opening {
            Some(retry) => [retry, command_frame(&next)].concat().into(),
            None => command_frame(&next),
        };
        Some((Ok::<_, Infallible>(frame), (app, Some(next.id), None)))
    });
    Ok(sse_response(version, Body::from_stream(body)))
}

fn command_frame(cmd: &Command) -> bytes::Bytes {
    let name = EventName::new(cmd.kind.as_str()).unwrap_or(frames::MESSAGE);
    frames::json_event_with_id(name, cmd.id, std::str::from_utf8(&cmd.json).unwrap_or("{}"))
}
