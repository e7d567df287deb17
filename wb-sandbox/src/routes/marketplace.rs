//! Seller warehouses and their stock (`marketplace-api`).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{Caller, json_ok};
use crate::errors;
use crate::state::AppState;

const MAX_CHRT_IDS: usize = 1000;

pub async fn warehouses(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
) -> Response {
    json_ok(&app.catalog(token.seller_id).seller_warehouses)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StocksRequest {
    chrt_ids: Vec<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stock {
    chrt_id: i64,
    amount: u32,
}

#[derive(Serialize)]
struct StocksResponse {
    stocks: Vec<Stock>,
}

pub async fn stocks(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Path(warehouse_id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(warehouse_id) = warehouse_id.parse::<i64>() else {
        return errors::marketplace(
            StatusCode::BAD_REQUEST,
            "IncorrectParameter",
            "IncorrectParameter",
        );
    };
    let Ok(req) = serde_json::from_slice::<StocksRequest>(&body) else {
        return errors::marketplace(
            StatusCode::BAD_REQUEST,
            "IncorrectRequestBody",
            "Incorrect required body",
        );
    };
    if req.chrt_ids.len() > MAX_CHRT_IDS {
        return errors::marketplace(
            StatusCode::BAD_REQUEST,
            "IncorrectRequest",
            &format!("Переданы некорректные данные: не более {MAX_CHRT_IDS} chrtIds в запросе"),
        );
    }
    app.with_sim(token.seller_id, |cat, sim| {
        let Some(h) = cat.seller_warehouse_index(warehouse_id) else {
            return errors::marketplace(StatusCode::NOT_FOUND, "NotFound", "");
        };
        let mut seen = std::collections::HashSet::with_capacity(req.chrt_ids.len());
        // Unknown chrtIds are left out rather than failing the whole request.
        let stocks = req
            .chrt_ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|&chrt_id| {
                let (p, s) = cat.find_chrt(chrt_id)?;
                Some(Stock {
                    chrt_id,
                    amount: sim.quantity(cat.dims.seller_cell(h, p, s)),
                })
            })
            .collect();
        json_ok(&StocksResponse { stocks })
    })
}
