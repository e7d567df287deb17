//! One router for every WB host: the paths of the hosts the Stock Tracker uses do not collide,
//! so a single base URL can stand in for all of them.

mod analytics;
mod content;
mod control;
mod general;
mod marketplace;
mod statistics;
mod stock_json;
mod warehouse_remains;

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::errors;
use crate::rate_limit::{Decision, Limit};
use crate::state::AppState;
use crate::tokens::{self, Category, TokenType, VerifiedToken};

/// Per-endpoint rules: which token category it needs and WB's published limits.
pub struct Policy {
    /// Path template; also the rate-limit bucket name.
    pub endpoint: &'static str,
    /// `None` for `/ping`, whose category follows the host it is called on.
    pub category: Option<Category>,
    pub personal: Limit,
    pub base: Limit,
    pub test: Limit,
    /// `stocks-report/*` refuses base tokens with 403 ...
    pub base_forbidden: bool,
    /// ... except, where the spec lists `base-with-secret` (wb-warehouses), a base token sent
    /// with the service's `X-Client-Secret`.
    pub base_with_secret: bool,
    /// Marketplace counts a 4xx answer as this many requests.
    pub client_error_cost: u32,
}

impl Policy {
    /// The limit row of a request: a base token sent with the service's secret gets the
    /// service row ("base with secret", WB news 144).
    fn limit(&self, token_type: TokenType, with_secret: bool) -> Limit {
        match token_type {
            TokenType::Personal | TokenType::Service => self.personal,
            TokenType::Base if with_secret => self.personal,
            TokenType::Base => self.base,
            TokenType::Test => self.test,
        }
    }

    fn refuses(&self, token_type: TokenType, with_secret: bool) -> bool {
        self.base_forbidden
            && token_type == TokenType::Base
            && !(with_secret && self.base_with_secret)
    }

    const fn same(endpoint: &'static str, category: Category, limit: Limit) -> Self {
        Self {
            endpoint,
            category: Some(category),
            personal: limit,
            base: limit,
            test: limit,
            base_forbidden: false,
            base_with_secret: false,
            client_error_cost: 1,
        }
    }

    const fn reports(
        endpoint: &'static str,
        category: Category,
        personal: Limit,
        base: Limit,
    ) -> Self {
        Self {
            endpoint,
            category: Some(category),
            personal,
            base,
            test: personal,
            base_forbidden: false,
            base_with_secret: false,
            client_error_cost: 1,
        }
    }

    const fn marketplace(endpoint: &'static str) -> Self {
        Self {
            endpoint,
            category: Some(Category::Marketplace),
            personal: Limit::new(60, 300, 20),
            base: Limit::new(60, 150, 10),
            test: Limit::new(60, 150, 10),
            base_forbidden: false,
            base_with_secret: false,
            client_error_cost: 10,
        }
    }
}

/// WB's limits as published on 2026-08-18 (see the `description_limit` blocks of the spec).
pub mod policies {
    use super::*;

    pub static PING: Policy = Policy {
        category: None,
        ..Policy::same("/ping", Category::Content, Limit::new(30, 3, 3))
    };
    pub static CARDS_LIST: Policy = Policy::same(
        "/content/v2/get/cards/list",
        Category::Content,
        Limit::new(60, 100, 5),
    );
    pub static STOCKS_REPORT: Policy = Policy {
        base_forbidden: true,
        base_with_secret: true,
        ..Policy::same(
            "/api/analytics/v1/stocks-report/wb-warehouses",
            Category::Analytics,
            Limit::new(60, 3, 1),
        )
    };
    /// Added by WB on 2026-08-24 (after the spec snapshot): personal and service tokens,
    /// 3 a minute, burst 1.
    pub static SELLER_STOCKS_REPORT: Policy = Policy {
        base_forbidden: true,
        ..Policy::same(
            "/api/analytics/v1/stocks-report/seller-warehouses",
            Category::Analytics,
            Limit::new(60, 3, 1),
        )
    };
    pub static REMAINS_CREATE: Policy = Policy::reports(
        "/api/v1/warehouse_remains",
        Category::Analytics,
        Limit::new(60, 1, 5),
        Limit::new(3600, 4, 1),
    );
    pub static REMAINS_STATUS: Policy = Policy::reports(
        "/api/v1/warehouse_remains/tasks/{task_id}/status",
        Category::Analytics,
        Limit::new(5, 1, 5),
        Limit::new(3600, 4, 1),
    );
    pub static REMAINS_DOWNLOAD: Policy = Policy::reports(
        "/api/v1/warehouse_remains/tasks/{task_id}/download",
        Category::Analytics,
        Limit::new(60, 1, 1),
        Limit::new(3600, 4, 1),
    );
    pub static WAREHOUSES: Policy = Policy::marketplace("/api/v3/warehouses");
    pub static STOCKS: Policy = Policy::marketplace("/api/v3/stocks/{warehouseId}");
    pub static ORDERS: Policy = Policy::reports(
        "/api/v1/supplier/orders",
        Category::Statistics,
        Limit::new(60, 1, 10),
        Limit::new(3 * 3600, 1, 1),
    );
    pub static SALES: Policy = Policy::reports(
        "/api/v1/supplier/sales",
        Category::Statistics,
        Limit::new(60, 1, 1),
        Limit::new(2 * 3600, 1, 1),
    );
}

/// The verified token of the current request, put there by [`guard`].
#[derive(Clone)]
pub struct Caller(pub VerifiedToken);

pub fn build(state: AppState) -> Router {
    let guarded = |route: MethodRouter<AppState>, policy: &'static Policy| {
        route.route_layer(from_fn_with_state((state.clone(), policy), guard))
    };
    use policies::*;
    Router::new()
        .route("/ping", guarded(get(general::ping), &PING))
        .route(
            "/content/v2/get/cards/list",
            guarded(post(content::list_cards), &CARDS_LIST),
        )
        .route(
            "/api/analytics/v1/stocks-report/wb-warehouses",
            guarded(post(analytics::wb_warehouses), &STOCKS_REPORT),
        )
        .route(
            "/api/analytics/v1/stocks-report/seller-warehouses",
            guarded(post(analytics::seller_warehouses), &SELLER_STOCKS_REPORT),
        )
        .route(
            "/api/v1/warehouse_remains",
            guarded(get(warehouse_remains::create), &REMAINS_CREATE),
        )
        .route(
            "/api/v1/warehouse_remains/tasks/{task_id}/status",
            guarded(get(warehouse_remains::status), &REMAINS_STATUS),
        )
        .route(
            "/api/v1/warehouse_remains/tasks/{task_id}/download",
            guarded(get(warehouse_remains::download), &REMAINS_DOWNLOAD),
        )
        .route(
            "/api/v3/warehouses",
            guarded(get(marketplace::warehouses), &WAREHOUSES),
        )
        .route(
            "/api/v3/stocks/{warehouseId}",
            guarded(post(marketplace::stocks), &STOCKS),
        )
        .route(
            "/api/v1/supplier/orders",
            guarded(get(statistics::orders), &ORDERS),
        )
        .route(
            "/api/v1/supplier/sales",
            guarded(get(statistics::sales), &SALES),
        )
        .merge(control::routes())
        .fallback(|| async { errors::path_not_found() })
        .layer(from_fn_with_state(
            state.clone(),
            crate::service_auth::check,
        ))
        .with_state(state)
}

/// First label of the Host header without a `-sandbox` suffix, e.g. `content-api`.
fn host_service(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let label = host.split(['.', ':']).next()?;
    Some(label.trim_end_matches("-sandbox").to_ascii_lowercase())
}

/// Category a `/ping` on a given WB host checks; unknown hosts (localhost) accept any token.
fn host_category(service: &str) -> Option<Category> {
    Some(match service {
        "content-api" => Category::Content,
        "seller-analytics-api" => Category::Analytics,
        "discounts-prices-api" => Category::Prices,
        "marketplace-api" => Category::Marketplace,
        "statistics-api" => Category::Statistics,
        "advert-api" => Category::Promotion,
        "feedbacks-api" => Category::Feedbacks,
        "buyer-chat-api" => Category::Chat,
        "supplies-api" => Category::Supplies,
        "returns-api" => Category::Returns,
        "documents-api" => Category::Documents,
        "finance-api" => Category::Finance,
        "user-management-api" => Category::Users,
        _ => return None,
    })
}

fn set_header(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(name, v);
    }
}

/// Authentication, category check and rate limiting, in the order WB's gateway applies them.
async fn guard(
    State((app, policy)): State<(AppState, &'static Policy)>,
    mut req: Request,
    next: Next,
) -> Response {
    let header_value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = match tokens::from_header(header_value).and_then(tokens::verify) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(endpoint = policy.endpoint, error = %e, "401");
            let mut resp = errors::unauthorized(&e.to_string());
            set_header(&mut resp, "X-Ratelimit-Remaining", policy.personal.burst);
            return resp;
        }
    };
    // What WB would bill: every request with a seller's token, refused or not.
    app.count_request(token.seller_id, policy.endpoint);
    let service = host_service(req.headers());
    let needed = policy
        .category
        .or_else(|| service.as_deref().and_then(host_category));
    // A secret that reaches this point was accepted (or none are configured): the
    // service-auth check in front refuses a wrong one.
    let with_secret = req.headers().contains_key("x-client-secret");
    let limit = policy.limit(token.token_type, with_secret);
    if let Some(category) = needed
        && !token.has(category)
    {
        tracing::debug!(
            endpoint = policy.endpoint,
            seller_id = token.seller_id,
            ?category,
            "401 scope"
        );
        let mut resp = errors::unauthorized("token scope not allowed");
        set_header(&mut resp, "X-Ratelimit-Remaining", limit.burst);
        return resp;
    }

    // `/ping` is limited per host; everything else per token and method.
    let mut key = format!("{}:{}", token.seller_id, token.token_id);
    if policy.category.is_none() {
        key.push('@');
        key.push_str(service.as_deref().unwrap_or(""));
    }
    let mut remaining = match app
        .limiter()
        .check(&key, policy.endpoint, limit, Instant::now())
    {
        Decision::Allowed { remaining } => remaining,
        Decision::Limited {
            retry_secs,
            limit,
            reset_secs,
        } => {
            tracing::debug!(
                endpoint = policy.endpoint,
                seller_id = token.seller_id,
                retry_secs,
                "429"
            );
            let mut resp = errors::problem(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests",
                &format!("limited by {}", uuid::Uuid::new_v4()),
                "s2s-api-auth-catalog",
            );
            set_header(&mut resp, "X-Ratelimit-Retry", retry_secs);
            set_header(&mut resp, "X-Ratelimit-Limit", limit);
            set_header(&mut resp, "X-Ratelimit-Reset", reset_secs);
            return resp;
        }
    };

    let token_seller = token.seller_id;
    let mut resp = if policy.refuses(token.token_type, with_secret) {
        errors::problem_with_code(
            StatusCode::FORBIDDEN,
            "forbidden",
            "base token is not allowed",
            "base token is not allowed for this path",
            "s2s-analytics",
        )
    } else {
        req.extensions_mut().insert(Caller(token));
        next.run(req).await.into_response()
    };
    if resp.status().is_client_error() && policy.client_error_cost > 1 {
        remaining = app.limiter().charge(
            &key,
            policy.endpoint,
            limit,
            policy.client_error_cost - 1,
            Instant::now(),
        );
    }
    set_header(&mut resp, "X-Ratelimit-Remaining", remaining);
    tracing::debug!(
        endpoint = policy.endpoint,
        seller_id = token_seller,
        status = resp.status().as_u16(),
        remaining,
        "answered"
    );
    resp
}

/// A body that is already serialised JSON.
pub(crate) fn json_bytes(body: impl Into<axum::body::Body>) -> Response {
    let mut resp = (StatusCode::OK, body.into()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn json_ok<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
