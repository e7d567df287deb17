//! Safety nets that keep every answer a problem document and every request bounded.

use crate::error::{ApiError, PROBLEM_JSON};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Bounds a request end to end. Outside calls have their own, shorter timeouts; this
/// bounds everything else, so nothing a client sends holds a connection forever.
pub async fn request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "The request took too long and was stopped; try again shortly.",
            )
            .with_retry_after(5)
            .into_response()
        }
    }
}

/// An error answer that is not a problem document (a rejection from a layer or an
/// extractor that is not ours, e.g. a body over the limit read as raw bytes) is replaced
/// by one with the same status.
pub async fn every_error_is_a_problem(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let retry_after = response
        .headers()
        .get(axum::http::header::RETRY_AFTER)
        .cloned();
    let mut problem = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::body_too_large(),
        StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "Not found."),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "This route does not support this method.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "Send the body as application/json.",
        ),
        s if s.is_server_error() => ApiError::internal(anyhow::anyhow!(
            "a layer answered {s} without a problem document"
        )),
        s => ApiError::new(
            s,
            "bad_request",
            s.canonical_reason().unwrap_or("The request was refused."),
        ),
    }
    .into_response();
    if let Some(value) = retry_after {
        problem
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    problem
}
