//! The router: which path goes where, who may call it, and JSON bodies for the errors axum
//! produces itself (404, 405).

use super::{ApiError, App, handlers, stream};
use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use std::sync::Arc;

pub(super) fn router(app: Arc<App>) -> Router {
    // Writes: the agent API and the browser's write endpoints need the token when one is set.
    let protected = Router::new()
        .route("/chat", post(handlers::chat))
        .route("/cancel", post(handlers::cancel))
        .route("/restart", post(handlers::restart))
        .route("/api/messages", post(handlers::append_message))
        .route("/api/state", patch(handlers::patch_state))
        .route("/api/replies", post(handlers::reply))
        .route("/api/inbox", get(stream::inbox))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            require_token,
        ));
    let open = Router::new()
        .route("/", get(handlers::index))
        .route("/web/{name}", get(handlers::web_asset))
        .route("/stream", get(stream::stream))
        .route("/state", get(handlers::state))
        .route("/messages", get(handlers::messages))
        .route("/download", get(handlers::download))
        .route("/suggest-reprompt", get(handlers::suggest_reprompt))
        .route("/commit-description", get(handlers::commit_description))
        .route("/metrics", get(handlers::metrics));
    let mut router = open
        .merge(protected)
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
    router.with_state(app)
}

/// `Authorization: Bearer <token>` when a token is configured. Compared in constant time.
async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(token) = &app.config.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            let mut res = ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
                .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// axum answers a wrong method with an empty 405; give it the JSON body every error has.
async fn json_for_bare_errors(res: Response) -> Response {
    let status = res.status();
    if (status.is_client_error() || status.is_server_error())
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
