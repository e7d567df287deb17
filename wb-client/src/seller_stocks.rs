//! The seller's own warehouses (FBS/DBS) and their stock, on marketplace-api.

use crate::client::WbSession;
use crate::error::WbError;
use crate::limits::Method;
use crate::models::{SellerStock, SellerStocksAnswer, SellerWarehouse};
use serde_json::json;

/// WB accepts at most this many size ids per stock request.
pub const SELLER_STOCKS_CHUNK: usize = 1000;

impl WbSession {
    /// `GET /api/v3/warehouses`.
    pub async fn seller_warehouses(&self) -> Result<Vec<SellerWarehouse>, WbError> {
        let method = Method::SellerWarehouses;
        let answer = self.send(method, method.path_template(), &[], None).await?;
        self.decode_list(method, &answer)
    }

    /// `POST /api/v3/stocks/{warehouseId}` for every size id, 1000 per request, answers
    /// concatenated in request order. No ids, no requests.
    pub async fn seller_stocks(
        &self,
        warehouse_id: i64,
        chrt_ids: &[i64],
    ) -> Result<Vec<SellerStock>, WbError> {
        let method = Method::SellerStocks;
        let path = format!("/api/v3/stocks/{warehouse_id}");
        let mut stocks = Vec::with_capacity(chrt_ids.len());
        for chunk in chrt_ids.chunks(SELLER_STOCKS_CHUNK) {
            let body = json!({ "chrtIds": chunk });
            let answer = self.send(method, &path, &[], Some(&body)).await?;
            if answer.status == 204 {
                continue;
            }
            let part: SellerStocksAnswer = self.decode(method, &answer)?;
            stocks.extend(part.stocks);
        }
        Ok(stocks)
    }
}
