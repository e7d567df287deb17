//! `GET /api/v1/supplier/orders` and `/sales`, paged by `lastChangeDate`.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Caller, json_ok};
use crate::SandboxConfig;
use crate::catalog::{Catalog, Simulation, Stamp, order_row, order_stamps, sale_row, sale_stamps};
use crate::errors;
use crate::state::AppState;
use crate::timefmt::{from_micros, moscow_date, parse_date_from};

/// WB's "conditional limit" of rows per answer with `flag=0`.
pub const PAGE_ROWS: usize = 80_000;

struct Params {
    from_us: i64,
    has_time: bool,
    by_day: bool,
}

/// Errors are the `errors` value of WB's statistics 400 body.
fn params(q: &HashMap<String, String>) -> Result<Params, serde_json::Value> {
    let Some(raw) = q.get("dateFrom").filter(|v| !v.is_empty()) else {
        return Err(json!(["dateFrom: field required"]));
    };
    let Some((from, has_time)) = parse_date_from(raw) else {
        return Err(json!("dateFrom: Value not validated"));
    };
    let by_day = match q.get("flag").map(String::as_str) {
        None | Some("") | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(json!("flag: Value not validated")),
    };
    Ok(Params {
        from_us: from.timestamp_micros(),
        has_time,
        by_day,
    })
}

/// `flag=1`: everything dated on dateFrom's (Moscow) day. `flag=0`: rows changed after
/// dateFrom, oldest first, one page. A dateFrom with a time of day is exclusive, so passing
/// the last row's full `lastChangeDate` continues right after it and an exhausted feed
/// answers `[]`; a bare date includes its midnight.
fn select(stamps: Vec<Stamp>, p: &Params) -> Vec<Stamp> {
    let mut chosen: Vec<Stamp> = if p.by_day {
        let day = moscow_date(from_micros(p.from_us));
        stamps
            .into_iter()
            .filter(|s| moscow_date(from_micros(s.date_us)) == day)
            .collect()
    } else {
        stamps
            .into_iter()
            .filter(|s| {
                if p.has_time {
                    s.last_change_us > p.from_us
                } else {
                    s.last_change_us >= p.from_us
                }
            })
            .collect()
    };
    chosen.sort_by_key(|s| s.last_change_us);
    if !p.by_day {
        chosen.truncate(PAGE_ROWS);
    }
    chosen
}

/// Picks the page under the seller's simulation lock, then builds and serialises the rows
/// (the expensive part) on a blocking thread without holding it.
async fn feed<R: serde::Serialize + Send + 'static>(
    app: &AppState,
    seller_id: i64,
    q: &HashMap<String, String>,
    stamps: fn(&SandboxConfig, &Simulation, DateTime<Utc>, i64) -> Vec<Stamp>,
    row: fn(&Catalog, &Stamp) -> R,
) -> Response {
    let p = match params(q) {
        Ok(p) => p,
        Err(e) => return errors::statistics(e),
    };
    let epoch = app.epoch();
    let page = app.with_sim(seller_id, |_, sim| {
        select(stamps(app.cfg(), sim, epoch, seller_id), &p)
    });
    let catalog = app.catalog(seller_id);
    tokio::task::spawn_blocking(move || {
        let rows: Vec<R> = page.iter().map(|s| row(&catalog, s)).collect();
        json_ok(&rows)
    })
    .await
    .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

pub async fn orders(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    feed(&app, token.seller_id, &q, order_stamps, order_row).await
}

pub async fn sales(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    feed(&app, token.seller_id, &q, sale_stamps, sale_row).await
}
