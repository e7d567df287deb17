//! Stock on the seller's own warehouses (FBS/DBS) in one report:
//! `POST seller-analytics-api /api/analytics/v1/stocks-report/seller-warehouses`, which WB
//! added on 2026-08-24 "instead of `/api/v3/stocks/{id}`" (not in the 2026-08-18 spec files;
//! facts in `wb-api/README.md`). Personal and service tokens only; refreshed every 30 minutes.

use crate::client::WbSession;
use crate::error::WbError;
use crate::limits::Method;
use serde::{Deserialize, Serialize};

/// One size of one product on one seller warehouse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerWarehouseStockRow {
    #[serde(rename = "nmId")]
    pub nm_id: i64,
    #[serde(rename = "chrtId")]
    pub chrt_id: i64,
    #[serde(rename = "warehouseId")]
    pub warehouse_id: i64,
    #[serde(rename = "warehouseName", default)]
    pub warehouse_name: String,
    #[serde(rename = "regionName", default)]
    pub region_name: String,
    pub quantity: i64,
}

impl WbSession {
    /// The whole report, offset-paged like `stocks-report/wb-warehouses` (`limit` up to
    /// 250,000 a page): a seller with fewer rows than `page_size` costs one request.
    pub async fn all_seller_warehouse_stocks(
        &self,
        page_size: u64,
    ) -> Result<Vec<SellerWarehouseStockRow>, WbError> {
        self.whole_report(Method::StocksReportSellerWarehouses, page_size)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{DataEnvelope, Items};

    #[test]
    fn release_note_example() {
        let body = r#"{"data":{"items":[{"nmId":47254354,"chrtId":91663228,
            "warehouseId":1,"warehouseName":"ул. Троицкая","regionName":"Центральный",
            "quantity":12}]}}"#;
        let rows: DataEnvelope<Items<SellerWarehouseStockRow>> =
            serde_json::from_str(body).unwrap();
        let row = &rows.data.items[0];
        assert_eq!(
            (row.nm_id, row.chrt_id, row.warehouse_id),
            (47254354, 91663228, 1)
        );
        assert_eq!(row.quantity, 12);
    }
}
