//! The router: which path goes where, who may call it (the checks are `guard.rs`'s), and JSON
//! bodies for the errors axum produces itself (404, 405).

use super::{ApiError, App, guard, handlers, stream};
use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

pub(super) fn router(app: Arc<App>) -> Router {
    // Writes: the agent API and the browser's write endpoints. Same-origin JSON only, and the
    // token when one is set.
    let writes = Router::new()
        .route("/chat", post(handlers::chat))
        .route("/cancel", post(handlers::cancel))
        .route("/restart", post(handlers::restart))
        .route("/api/messages", post(handlers::append_message))
        .route("/api/state", patch(handlers::patch_state))
        .route("/api/replies", post(handlers::reply))
        .route("/api/inbox", get(stream::inbox))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            guard_write,
        ));
    // Reads: the token (or the read token) when reads are protected.
    let reads = Router::new()
        .route("/stream", get(stream::stream))
        .route("/state", get(handlers::state))
        .route("/messages", get(handlers::messages))
        .route("/download", get(handlers::download))
        .route("/suggest-reprompt", get(handlers::suggest_reprompt))
        .route("/commit-description", get(handlers::commit_description))
        .route("/metrics", get(handlers::metrics))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&app), guard_read));
    // The page and its files stay open, so that it can load and ask for the token.
    let open = Router::new()
        .route("/", get(handlers::index))
        .route("/web/{name}", get(handlers::web_asset));
    // Durable Streams: its own store, the same tokens and origin rules.
    let durable = crate::durable::router(
        app.config.durable.clone(),
        Arc::new(app.config.clone()),
        app.durable.clone(),
    );
    let router = open.merge(reads).merge(writes);
    let router = router.route_service("/v1/stream/{*path}", durable);
    let mut router = router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::map_response(json_for_bare_errors));
    if let Some(origin) = &app.config.cors_origin {
        match HeaderValue::from_str(origin) {
            Ok(origin) => {
                router = router.layer(
                    tower_http::cors::CorsLayer::new()
                        .allow_origin(origin)
                        .allow_methods([Method::GET, Method::POST, Method::PATCH])
                        .allow_headers([
                            header::CONTENT_TYPE,
                            header::AUTHORIZATION,
                            header::HeaderName::from_static("last-event-id"),
                        ]),
                );
            }
            Err(_) => tracing::warn!(origin, "ignoring an invalid --cors-origin"),
        }
    }
    // Outermost: a request for a foreign host gets nothing else, and every answer, errors
    // included, carries the security headers.
    router = router.layer(middleware::from_fn_with_state(Arc::clone(&app), guard_host));
    for (name, value) in guard::SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router.with_state(app)
}

/// The host the request was sent to: an absolute-form target's authority, else `Host`.
pub(crate) fn request_host(req: &Request) -> Option<&str> {
    match req.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => req
            .headers()
            .get(header::HOST)
            .map(|v| v.to_str().unwrap_or("\u{fffd}")),
    }
}

/// DNS rebinding: only the hosts this server serves (see [`guard::check_host`]). A request
/// without a host is fine on HTTP/1.0 (browsers always send one).
async fn guard_host(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = request_host(&req);
    if (host.is_some() || req.version() != Version::HTTP_10)
        && let Err(e) = guard::check_host(&app.config, host)
    {
        return e.into_response();
    }
    next.run(req).await
}

/// Writes: not from another site (403), the write token (401), a JSON body (415).
async fn guard_write(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Err(e) = guard::check_same_origin(&app.config, req.headers(), request_host(&req)) {
        return e.into_response();
    }
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !guard::write_allowed(&app.config, auth) {
        return guard::unauthorized(false);
    }
    // `GET /api/inbox` has no body.
    if req.method() != Method::GET
        && let Err(e) = guard::check_json_body(req.headers())
    {
        return e.into_response();
    }
    next.run(req).await
}

/// Reads: the token or the read token, in `Authorization` or `?access_token=`.
async fn guard_read(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if guard::reads_protected(&app.config) {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        // The last `access_token` wins, as with every other query key.
        let query = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
            .map(|Query(q)| q)
            .unwrap_or_default();
        let access_token = query
            .iter()
            .rev()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.as_bytes());
        if !guard::read_allowed(&app.config, auth, access_token) {
            return guard::unauthorized(true);
        }
    }
    next.run(req).await
}

/// axum answers a wrong method with an empty 405; give it the JSON body every error has.
async fn json_for_bare_errors(res: Response) -> Response {
    let status = res.status();
    // A response that declares a length has its body already (axum empties the body of a
    // response to HEAD but keeps the length; a JSON body put back would contradict it).
    let declared = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0");
    if (status.is_client_error() || status.is_server_error())
        && !declared
        && res.body().size_hint().exact() == Some(0)
    {
        let message = match status {
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed".to_owned(),
            s => s.canonical_reason().unwrap_or("error").to_lowercase(),
        };
        let (mut parts, _) = res.into_parts();
        let fresh = ApiError::new(status, message).into_response();
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Response::from_parts(parts, fresh.into_body());
    }
    res
}
