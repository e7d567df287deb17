//! RFC 9457 problem responses: the one error type every handler returns.
//!
//! Each problem has a stable machine `code` (clients switch on it), the `field` at fault for
//! validation errors, and the request id. Internal errors are logged with their cause and
//! shown as an opaque 500 carrying only that id.

use crate::http::request_id;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stock_tracker_shared::accounts::Invalid;
use stock_tracker_shared::billing::refresh::BillingError;
use stock_tracker_stripe::stripe::StripeApiError;
use stock_tracker_wb::WbError;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:stock-tracker:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_email`.
    pub code: String,
    /// The request field at fault, as a JSON path (`email`, `items[2].qty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extra members some problems carry (e.g. readiness `checks`).
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// The error every handler returns. Boxed: handlers return `Result<_, ApiError>` on every
/// path, and a small `Err` keeps the happy path's `Result` small.
#[derive(Debug)]
pub struct ApiError(Box<Detail>);

#[derive(Debug)]
pub struct Detail {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    retry_after: Option<u64>,
    extensions: serde_json::Map<String, serde_json::Value>,
    source: Option<anyhow::Error>,
    /// Where an internal error arose (the `?` that converted it), for the log.
    location: Option<&'static std::panic::Location<'static>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl std::ops::Deref for ApiError {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Detail {
            status,
            code,
            detail: detail.into(),
            field: None,
            retry_after: None,
            extensions: serde_json::Map::new(),
            source: None,
            location: None,
        }))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_string(), value);
        self
    }

    /// 422 for a field a domain type refused (see `accounts::inputs`).
    pub fn field(field: &str, invalid: Invalid) -> Self {
        Self::invalid(invalid.code, field, invalid.detail)
    }

    /// 422 for a field that parsed but is not acceptable.
    pub fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail).with_field(field)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// Also what another tenant's object answers: existence is never revealed.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn too_many_requests(
        code: &'static str,
        retry_after: u64,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail).with_retry_after(retry_after)
    }

    /// 413: the body is larger than this endpoint accepts.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The request body is larger than this endpoint accepts.",
        )
    }

    /// 404 for a path parameter that cannot name anything (a malformed id).
    pub fn path_not_found(field: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Nothing matches this {field}."),
        )
        .with_field(field)
    }

    /// 422 for text holding the NUL character, which nothing we store may contain.
    pub fn nul_in_text(field: &str) -> Self {
        Self::invalid(
            "invalid_text",
            field,
            format!("{field} contains the NUL character."),
        )
    }

    /// Maps a unique-key violation on `constraint` to `then`; any other error as usual.
    /// `tx.insert(..).await.map_err(ApiError::on_constraint(users::EMAIL_KEY, || ...))?`
    pub fn on_constraint(
        constraint: &'static str,
        then: impl FnOnce() -> ApiError,
    ) -> impl FnOnce(sqlx::Error) -> ApiError {
        move |err| {
            if stock_tracker_shared::accounts::is_unique_violation(&err, constraint) {
                then()
            } else {
                err.into()
            }
        }
    }

    #[track_caller]
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred; quote the request id when reporting it.",
        );
        e.source = Some(source.into());
        e.location = Some(std::panic::Location::caller());
        e
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:stock-tracker:problem:{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            field: self.field.clone(),
            request_id: request_id::current(),
            extensions: self.extensions.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    let at = self.location.map(|l| format!("{}:{}", l.file(), l.line()));
                    tracing::error!(code = self.code, at, error = ?source, "request failed")
                }
                None => tracing::warn!(code = self.code, detail = %self.detail, "request failed"),
            }
        }
        let body = serde_json::to_vec(&self.to_problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    /// `#[track_caller]`: the `?` that converts the error is logged as where it arose.
    #[track_caller]
    fn from(err: sqlx::Error) -> Self {
        // A database that is down or saturated is an outage to retry, not a bug.
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "The database is temporarily unavailable; retry shortly.",
                )
                .with_retry_after(5);
                e.source = Some(err.into());
                e.location = Some(std::panic::Location::caller());
                e
            }
            // The session limits (`pool::SessionLimits`) ended a wait on a lock or a runaway
            // statement: the database is busy, not broken, and the request can be retried.
            sqlx::Error::Database(ref db)
                if matches!(db.code().as_deref(), Some("55P03" | "57014")) =>
            {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "The data is busy being changed; retry shortly.",
                )
                .with_retry_after(2);
                e.source = Some(err.into());
                e.location = Some(std::panic::Location::caller());
                e
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    #[track_caller]
    fn from(err: anyhow::Error) -> Self {
        ApiError::internal(err)
    }
}

impl From<StripeApiError> for ApiError {
    fn from(e: StripeApiError) -> Self {
        match e {
            StripeApiError::Unavailable(reason) => {
                tracing::warn!(%reason, "Stripe unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "stripe_unavailable",
                    "The payment provider is unavailable; try again shortly.",
                )
                .with_retry_after(30)
            }
            StripeApiError::Refused { status, message } => {
                tracing::error!(status, %message, "Stripe refused a billing request");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "stripe_refused",
                    "The payment provider refused the request; support has been notified.",
                )
            }
        }
    }
}

impl From<BillingError> for ApiError {
    #[track_caller]
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Stripe(e) => e.into(),
            BillingError::Db(e) => e.into(),
        }
    }
}

/// The api calls WB only to check a token a seller is saving, so WB's refusal is about
/// that token, and anything else is WB being unavailable.
impl From<WbError> for ApiError {
    fn from(e: WbError) -> Self {
        match e {
            WbError::Unauthorized | WbError::Forbidden => ApiError::invalid(
                "token_rejected",
                "token",
                "Wildberries rejected this token.",
            ),
            WbError::ServiceUnpaid | WbError::SecretRejected => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.code(),
                format!(
                    "Wildberries could not confirm the token: {} Try again later.",
                    e.human()
                ),
            )
            .with_retry_after(300),
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "wb_unavailable",
                format!("Wildberries could not confirm the token: {}", other.human()),
            )
            .with_retry_after(30),
        }
    }
}
