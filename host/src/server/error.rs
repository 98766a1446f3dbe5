//! Errors as the API shows them: a status and `{"error": "..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable reason (the `error` field).
    pub message: String,
    /// Seconds for `Retry-After` (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut res = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<crate::hub::PublishError> for ApiError {
    fn from(e: crate::hub::PublishError) -> Self {
        use crate::hub::PublishError as E;
        match e {
            E::Invalid(e) => ApiError::bad_request(e.to_string()),
            E::ShuttingDown => ApiError::unavailable("server is shutting down", 5),
            E::Log(crate::log::LogError::TooLarge { len, max }) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the message as stored (with its idx and timestamp) is {len} bytes, over the {max} byte record limit"
                ),
            ),
            E::Log(e) => {
                tracing::error!(error = %e, "log write failed");
                ApiError::unavailable(format!("the message log is unavailable: {e}"), 1)
            }
        }
    }
}

impl From<crate::log::LogError> for ApiError {
    fn from(e: crate::log::LogError) -> Self {
        tracing::error!(error = %e, "log read failed");
        ApiError::unavailable(format!("the message log is unavailable: {e}"), 1)
    }
}
