//! `POST /api/analytics/v1/stocks-report/wb-warehouses`: offset paging over stock rows.

use std::collections::HashSet;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::stock_json::inventory_response;
use super::{Caller, json_bytes};
use crate::errors;
use crate::state::AppState;

const MAX_LIMIT: u32 = 250_000;
const MAX_NM_IDS: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryRequest {
    #[serde(default)]
    nm_ids: Vec<i64>,
    #[serde(default)]
    chrt_ids: Vec<i64>,
    limit: Option<u32>,
    #[serde(default)]
    offset: u32,
}

fn bad_request(detail: String) -> Response {
    errors::analytics(StatusCode::BAD_REQUEST, "Invalid request body", &detail)
}

pub async fn wb_warehouses(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: InventoryRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("code=400, message=invalid: {e}")),
    };
    let limit = req.limit.unwrap_or(MAX_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return bad_request(format!(
            "code=400, message=invalid: limit must be between 1 and {MAX_LIMIT}"
        ));
    }
    if req.nm_ids.len() > MAX_NM_IDS {
        return bad_request(format!(
            "code=400, message=invalid: nmIds must contain at most {MAX_NM_IDS} items"
        ));
    }
    let offset = req.offset as usize;
    let limit = limit as usize;

    let items = app.with_sim(token.seller_id, |cat, sim| {
        let dims = cat.dims;
        if req.nm_ids.is_empty() {
            let end = dims.wb_cells().min(offset.saturating_add(limit));
            return (offset.min(end)..end)
                .map(|cell| cat.wb_row(sim, cell))
                .collect::<Vec<_>>();
        }
        // chrtIds narrow only the cards they belong to, as the spec describes
        // ("used only for the nmIds listed").
        let chrt_filter: HashSet<i64> = req.chrt_ids.iter().copied().collect();
        let mut wanted: Vec<u32> = req
            .nm_ids
            .iter()
            .filter_map(|&nm| cat.find_nm(nm))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut rows = Vec::new();
        let mut skipped = 0usize;
        'outer: for p in wanted {
            let product = &cat.products[p as usize];
            let narrowed = product
                .sizes
                .iter()
                .any(|s| chrt_filter.contains(&s.chrt_id));
            for (s, size) in product.sizes.iter().enumerate() {
                if narrowed && !chrt_filter.contains(&size.chrt_id) {
                    continue;
                }
                for w in 0..dims.wb_warehouses {
                    if skipped < offset {
                        skipped += 1;
                        continue;
                    }
                    if rows.len() >= limit {
                        break 'outer;
                    }
                    rows.push(cat.wb_row(sim, dims.wb_cell(p, s as u32, w)));
                }
            }
        }
        rows
    });
    // A full report is tens of megabytes; keep its serialisation off the async workers.
    tokio::task::spawn_blocking(move || json_bytes(inventory_response(&items)))
        .await
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}
