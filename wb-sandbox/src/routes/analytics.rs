//! The stocks reports, offset-paged:
//! - `POST /api/analytics/v1/stocks-report/wb-warehouses`: stock on WB's warehouses;
//! - `POST /api/analytics/v1/stocks-report/seller-warehouses` (WB, 2026-08-24): stock on the
//!   seller's own warehouses, one row per (warehouse, product, size); 204 when there is no
//!   data.

use std::collections::HashSet;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::stock_json::inventory_response;
use super::{Caller, json_bytes, json_ok};
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

/// The body of either report and its page size, or the detail of WB's 400.
fn parse(body: &[u8]) -> Result<(InventoryRequest, u32), String> {
    let req: InventoryRequest =
        serde_json::from_slice(body).map_err(|e| format!("code=400, message=invalid: {e}"))?;
    let limit = req.limit.unwrap_or(MAX_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!(
            "code=400, message=invalid: limit must be between 1 and {MAX_LIMIT}"
        ));
    }
    if req.nm_ids.len() > MAX_NM_IDS {
        return Err(format!(
            "code=400, message=invalid: nmIds must contain at most {MAX_NM_IDS} items"
        ));
    }
    Ok((req, limit))
}

pub async fn wb_warehouses(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let (req, limit) = match parse(&body) {
        Ok(r) => r,
        Err(detail) => return bad_request(detail),
    };
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

/// One row of `stocks-report/seller-warehouses`, as WB's release note lists its fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SellerStockRow<'a> {
    nm_id: i64,
    chrt_id: i64,
    warehouse_id: i64,
    warehouse_name: &'a str,
    region_name: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
struct SellerItems<'a> {
    items: Vec<SellerStockRow<'a>>,
}

#[derive(Serialize)]
struct SellerReport<'a> {
    data: SellerItems<'a>,
}

/// Rows in (warehouse, product, size) order; `nmIds` (and with them `chrtIds`) narrow it.
pub async fn seller_warehouses(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let (req, limit) = match parse(&body) {
        Ok(r) => r,
        Err(detail) => return bad_request(detail),
    };
    let nm_filter: HashSet<i64> = req.nm_ids.iter().copied().collect();
    let chrt_filter: HashSet<i64> = req.chrt_ids.iter().copied().collect();
    app.with_sim(token.seller_id, |cat, sim| {
        let dims = cat.dims;
        let mut items = Vec::new();
        let mut skipped = 0usize;
        'outer: for (h, w) in cat.seller_warehouses.iter().enumerate() {
            for (p, product) in cat.products.iter().enumerate() {
                if !nm_filter.is_empty() && !nm_filter.contains(&product.nm_id) {
                    continue;
                }
                let narrowed = product
                    .sizes
                    .iter()
                    .any(|s| chrt_filter.contains(&s.chrt_id));
                for (s, size) in product.sizes.iter().enumerate() {
                    if narrowed && !chrt_filter.contains(&size.chrt_id) {
                        continue;
                    }
                    if skipped < req.offset as usize {
                        skipped += 1;
                        continue;
                    }
                    if items.len() >= limit as usize {
                        break 'outer;
                    }
                    items.push(SellerStockRow {
                        nm_id: product.nm_id,
                        chrt_id: size.chrt_id,
                        warehouse_id: w.id,
                        warehouse_name: &w.name,
                        region_name: "",
                        quantity: sim.quantity(dims.seller_cell(h as u32, p as u32, s as u32)),
                    });
                }
            }
        }
        if items.is_empty() {
            return StatusCode::NO_CONTENT.into_response();
        }
        json_ok(&SellerReport {
            data: SellerItems { items },
        })
    })
}
