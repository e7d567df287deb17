//! What WB checks about the calling *service* rather than the seller's token: the service
//! secret in `X-Client-Secret` (WB news 144) and the service's balance (402 when it is
//! empty, for catalog services). Also a record of what each request carried, so tests can
//! assert the secret and `User-Agent` a client sent.
//!
//! Settings, all changeable at run time through `/__sandbox/service` (and the secrets at
//! start-up through `WB_SANDBOX_CLIENT_SECRETS`):
//! - `client_secrets`: when non-empty, a seller-data request that carries `X-Client-Secret`
//!   must carry one of them, else WB's generic 401 (WB documents no special wording for it).
//!   A request without the header is a seller's own software and passes.
//! - `unpaid`: every seller-data request answers 402 with WB's body.
//!
//! `/ping` is neither checked nor billed (it reads no seller data); it is recorded.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

use crate::errors::{self, PROBLEM_JSON, json_response};
use crate::state::AppState;

/// Requests remembered for `/__sandbox/request-log` (oldest dropped first).
const LOG_MAX: usize = 10_000;

#[derive(Default)]
pub struct ServiceAuth {
    inner: Mutex<Settings>,
    log: Mutex<VecDeque<SeenRequest>>,
}

#[derive(Default, Clone, Serialize)]
struct Settings {
    client_secrets: Vec<String>,
    unpaid: bool,
}

/// What one request to a WB path carried.
#[derive(Clone, Serialize)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub client_secret: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

impl ServiceAuth {
    pub fn with_secrets(secrets: Vec<String>) -> Self {
        let auth = Self::default();
        auth.inner.lock().expect("service auth lock").client_secrets = secrets;
        auth
    }

    fn settings(&self) -> Settings {
        self.inner.lock().expect("service auth lock").clone()
    }

    fn remember(&self, seen: SeenRequest) {
        let mut log = self.log.lock().expect("request log lock");
        if log.len() >= LOG_MAX {
            log.pop_front();
        }
        log.push_back(seen);
    }
}

/// `WB_SANDBOX_CLIENT_SECRETS`, comma-separated.
pub fn secrets_from_env() -> Vec<String> {
    std::env::var("WB_SANDBOX_CLIENT_SECRETS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The middleware in front of every WB path.
pub async fn check(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/__sandbox/") {
        return next.run(req).await;
    }
    let auth = app.service_auth();
    let mut seen = SeenRequest {
        method: req.method().to_string(),
        path: path.clone(),
        client_secret: header(&req, "x-client-secret"),
        user_agent: header(&req, "user-agent"),
        status: 0,
    };
    let settings = auth.settings();
    let seller_data = path != "/ping";
    let refused_secret = seen.client_secret.as_ref().is_some_and(|s| {
        !settings.client_secrets.is_empty() && !settings.client_secrets.contains(s)
    });
    let resp = if seller_data && refused_secret {
        errors::unauthorized("request is not authorized")
    } else if seller_data && settings.unpaid {
        json_response(
            StatusCode::PAYMENT_REQUIRED,
            PROBLEM_JSON,
            &json!({
                "title": "payment required",
                "detail": "wb solution for business has insufficient funds on its balance. \
                           please top up the balance in the company's personal account \
                           https://dev.wildberries.ru/company",
            }),
        )
    } else {
        next.run(req).await
    };
    seen.status = resp.status().as_u16();
    auth.remember(seen);
    resp
}

pub fn control_routes() -> Router<AppState> {
    Router::new()
        .route("/__sandbox/service", post(set_service).get(get_service))
        .route(
            "/__sandbox/request-log",
            get(requests).delete(clear_requests),
        )
}

/// `POST /__sandbox/service {"client_secrets": ["..."], "unpaid": true}`: either field may
/// be left out; answers the settings now in force.
async fn set_service(State(app): State<AppState>, body: Bytes) -> Response {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            "application/json",
            &json!({"error": "body must be a JSON object"}),
        );
    };
    let auth = app.service_auth();
    {
        let mut settings = auth.inner.lock().expect("service auth lock");
        if let Some(secrets) = map.get("client_secrets").and_then(Value::as_array) {
            settings.client_secrets = secrets
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        if let Some(unpaid) = map.get("unpaid").and_then(Value::as_bool) {
            settings.unpaid = unpaid;
        }
    }
    get_service(State(app)).await
}

async fn get_service(State(app): State<AppState>) -> Response {
    let s = app.service_auth().settings();
    crate::routes::json_ok(&json!({
        "client_secrets_configured": s.client_secrets.len(),
        "unpaid": s.unpaid,
    }))
}

/// `GET /__sandbox/request-log`: every WB request seen, oldest first, with the secret and
/// `User-Agent` it carried.
async fn requests(State(app): State<AppState>) -> Response {
    let log: Vec<SeenRequest> = app
        .service_auth()
        .log
        .lock()
        .expect("request log lock")
        .iter()
        .cloned()
        .collect();
    crate::routes::json_ok(&log)
}

async fn clear_requests(State(app): State<AppState>) -> Response {
    app.service_auth()
        .log
        .lock()
        .expect("request log lock")
        .clear();
    StatusCode::NO_CONTENT.into_response()
}
