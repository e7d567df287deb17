//! `/__sandbox/*`: test and demo hooks. Not part of WB's API and not authenticated.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::json_ok;
use crate::catalog::tick_time;
use crate::errors::json_response;
use crate::state::AppState;
use crate::timefmt::rfc3339_nano;
use crate::tokens::{Category, TokenOptions, TokenType, mint_token};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__sandbox/advance", post(advance))
        .route("/__sandbox/state", get(state))
        .route("/__sandbox/tokens", post(tokens))
        .route("/__sandbox/reset-limits", post(reset_limits))
        .route("/__sandbox/cards", post(edit_cards))
        .route("/__sandbox/requests", get(requests).delete(reset_requests))
        .merge(crate::service_auth::control_routes())
}

fn bad(msg: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        "application/json",
        &json!({"error": msg}),
    )
}

/// Body fields win over query parameters, so both `curl -d` and `?seller_id=` work.
fn merged(
    query: HashMap<String, String>,
    body: &Bytes,
) -> Result<serde_json::Map<String, Value>, String> {
    let mut map: serde_json::Map<String, Value> = query
        .into_iter()
        .map(|(k, v)| {
            let value = serde_json::from_str::<Value>(&v).unwrap_or(Value::String(v));
            (k, value)
        })
        .collect();
    if !body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => map.extend(obj),
            _ => return Err("body must be a JSON object".into()),
        }
    }
    Ok(map)
}

fn int(map: &serde_json::Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer")),
    }
}

fn seller_id(map: &serde_json::Map<String, Value>) -> Result<i64, String> {
    int(map, "seller_id")?.ok_or_else(|| "seller_id is required".into())
}

fn state_json(app: &AppState, seller_id: i64) -> Value {
    let cfg = app.cfg();
    let tick = app.tick(seller_id);
    json!({
        "seller_id": seller_id,
        "tick": tick,
        "manual_ticks": app.manual_ticks(seller_id),
        "epoch": rfc3339_nano(app.epoch()),
        "tick_time": rfc3339_nano(tick_time(cfg, app.epoch(), tick)),
        "config": {
            "products": cfg.products,
            "sizes_per_product": cfg.sizes_per_product,
            "wb_warehouses": cfg.wb_warehouses,
            "seller_warehouses": cfg.seller_warehouses,
            "rate_limit_scale": cfg.rate_limit_scale,
            "drain_every_secs": cfg.drain_every.as_secs_f64(),
            "wb_stock_rows": cfg.wb_stock_rows(),
        },
    })
}

/// `POST /__sandbox/advance {"seller_id": 1, "ticks": 3}`: runs that many simulated order
/// rounds for one seller right away; answers like `/__sandbox/state`.
async fn advance(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let map = merged(query, &body)?;
        let seller = seller_id(&map)?;
        let ticks = int(&map, "ticks")?.unwrap_or(1);
        let ticks = u64::try_from(ticks).map_err(|_| "ticks must be >= 0".to_string())?;
        Ok::<_, String>((seller, ticks))
    })();
    match result {
        Ok((seller, ticks)) => {
            app.advance(seller, ticks);
            json_ok(&state_json(&app, seller))
        }
        Err(msg) => bad(msg),
    }
}

async fn state(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match merged(query, &Bytes::new()).and_then(|m| seller_id(&m)) {
        Ok(seller) => json_ok(&state_json(&app, seller)),
        Err(msg) => bad(msg),
    }
}

fn token_options(map: &serde_json::Map<String, Value>) -> Result<TokenOptions, String> {
    let mut opts = TokenOptions::demo(seller_id(map)?);
    if let Some(t) = map.get("type").filter(|v| !v.is_null()) {
        let raw = t
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| t.to_string());
        opts.token_type = raw.parse::<TokenType>()?;
    }
    if let Some(cats) = map.get("categories").filter(|v| !v.is_null()) {
        let Some(list) = cats.as_array() else {
            return Err("categories must be an array".into());
        };
        opts.categories = list
            .iter()
            .map(|c| {
                let raw = c
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| c.to_string());
                raw.parse::<Category>()
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(ro) = map.get("read_only").filter(|v| !v.is_null()) {
        opts.read_only = ro.as_bool().ok_or("read_only must be a boolean")?;
    }
    // Negative days mint an already expired token.
    if let Some(days) = int(map, "days")? {
        opts.expires_at = Utc::now() + Duration::days(days);
    }
    if let Some(id) = map.get("service_id").filter(|v| !v.is_null()) {
        opts.service_id = Some(
            id.as_str()
                .ok_or("service_id must be a string")?
                .to_string(),
        );
    }
    opts.test = match map.get("test").filter(|v| !v.is_null()) {
        Some(t) => t.as_bool().ok_or("test must be a boolean")?,
        None => opts.token_type == TokenType::Test,
    };
    Ok(opts)
}

/// `POST /__sandbox/tokens {"seller_id": 1, "type": "base", "categories": ["analytics"],
/// "read_only": true, "days": 180, "test": false, "service_id": "..."}` →
/// `{"token": "..."}`.
async fn tokens(Query(query): Query<HashMap<String, String>>, body: Bytes) -> Response {
    match merged(query, &body).and_then(|m| token_options(&m)) {
        Ok(opts) => json_ok(&json!({"token": mint_token(&opts)})),
        Err(msg) => bad(msg),
    }
}

async fn reset_limits(State(app): State<AppState>) -> Response {
    app.limiter().reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /__sandbox/cards {"seller_id": 1, "touch": 100, "trash": 2}`: the seller edits the
/// `touch` cards updated longest ago (new `updatedAt`, marked title), then moves the `trash`
/// cards updated longest ago to the trash (gone from `cards/list`, stock still reported).
/// Answers `{"touched": [nmID...], "trashed": [nmID...]}`.
async fn edit_cards(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let parsed = (|| {
        let map = merged(query, &body)?;
        let count = |key| {
            int(&map, key)?
                .map(usize::try_from)
                .transpose()
                .map_err(|_| format!("{key} must be >= 0"))
        };
        Ok::<_, String>((seller_id(&map)?, count("touch")?, count("trash")?))
    })();
    let (seller, touch, trash) = match parsed {
        Ok(p) => p,
        Err(msg) => return bad(msg),
    };
    let touched = touch.map_or_else(Vec::new, |n| {
        app.edit_catalog(seller, |c| c.with_touched(n, Utc::now()))
    });
    let trashed = trash.map_or_else(Vec::new, |n| {
        app.edit_catalog(seller, |c| c.with_trashed(n))
    });
    json_ok(&json!({"touched": touched, "trashed": trashed}))
}

/// `GET /__sandbox/requests?seller_id=1`: the seller's requests (with a token of theirs,
/// whatever the answer) by endpoint path template, since the start or the last
/// `DELETE /__sandbox/requests?seller_id=1`.
async fn requests(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match merged(query, &Bytes::new()).and_then(|m| seller_id(&m)) {
        Ok(seller) => {
            let by_endpoint = app.requests(seller);
            let total: u64 = by_endpoint.values().sum();
            json_ok(&json!({"seller_id": seller, "total": total, "by_endpoint": by_endpoint}))
        }
        Err(msg) => bad(msg),
    }
}

async fn reset_requests(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match merged(query, &Bytes::new()).and_then(|m| seller_id(&m)) {
        Ok(seller) => {
            app.reset_requests(seller);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(msg) => bad(msg),
    }
}
