//! The SSE endpoints. Bodies are pulled: hyper asks for the next chunk when the socket can
//! take it, and the subscription answers with everything ready as one buffer.

use super::{ApiError, App, ConnKill};
use crate::frames;
use crate::hub::{EventFilter, SubscribeError};
use crate::inbox::Command;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use sse_core::event::EventName;
use sse_core::seq::{ResumeRequest, parse_index};
use std::convert::Infallible;
use std::sync::Arc;

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn query(q: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// `Last-Event-ID` as an index; absent or empty is `None`.
fn last_event_id(headers: &HeaderMap) -> Result<Option<sse_core::Seq>, ApiError> {
    let Some(v) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::bad_request("Last-Event-ID is not text"))?;
    if v.is_empty() {
        return Ok(None);
    }
    parse_index(v)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("bad Last-Event-ID {v:?}: {e}")))
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
    headers: HeaderMap,
    kill: Option<axum::Extension<ConnKill>>,
    q: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(q)?;
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::bad_request("Last-Event-ID is not text"))?,
        ),
    };
    let resume = ResumeRequest::parse(
        param(&params, "from"),
        param(&params, "epoch"),
        last_event_id,
    )
    .map_err(|e| ApiError::bad_request(format!("bad resume point: {e}")))?;
    let filter = param(&params, "events").map_or(EventFilter::ALL, EventFilter::parse);
    let sub = match app.hub.subscribe(resume, filter, kill.map(|k| k.0.0)) {
        Ok(sub) => sub,
        Err(SubscribeError::TooMany) => {
            return Err(ApiError::unavailable(
                "too many subscribers; try again later",
                10,
            ));
        }
        Err(SubscribeError::Ended) => return Ok(StatusCode::NO_CONTENT.into_response()),
    };
    let body = futures_util::stream::unfold(sub, |mut sub| async move {
        sub.next_batch()
            .await
            .map(|batch| (Ok::<_, Infallible>(batch), sub))
    });
    Ok(sse_response(version, Body::from_stream(body)))
}

/// `GET /api/inbox` (+ `Last-Event-ID`): user commands as SSE, event name = command type.
pub(super) async fn inbox(
    State(app): State<Arc<App>>,
    version: Version,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = last_event_id(&headers)?.map(|s| s.0);
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
