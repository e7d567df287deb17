//! The parts of WB's answers the product uses, named the Rust way and renamed to WB's field
//! names for serde. Optional or rarely-filled fields default instead of failing the whole
//! page: WB omits empty fields freely, and one odd card must not stop a sync.

use serde::{Deserialize, Serialize};

/// One product card (`/content/v2/get/cards/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    #[serde(rename = "nmID")]
    pub nm_id: i64,
    #[serde(rename = "imtID", default)]
    pub imt_id: i64,
    #[serde(rename = "vendorCode", default)]
    pub vendor_code: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub title: String,
    #[serde(rename = "subjectName", default)]
    pub subject_name: String,
    #[serde(default)]
    pub sizes: Vec<CardSize>,
    #[serde(rename = "updatedAt", default)]
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardSize {
    #[serde(rename = "chrtID")]
    pub chrt_id: i64,
    #[serde(rename = "techSize", default)]
    pub tech_size: String,
    #[serde(rename = "wbSize", default)]
    pub wb_size: String,
    /// Barcodes.
    #[serde(default)]
    pub skus: Vec<String>,
}

/// The cursor WB returns with a page of cards. `updated_at` is kept exactly as WB wrote it,
/// because the next request must send it back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsCursor {
    #[serde(rename = "updatedAt", default)]
    pub updated_at: String,
    #[serde(rename = "nmID", default)]
    pub nm_id: i64,
    /// How many cards this page returned.
    #[serde(default)]
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardsPage {
    #[serde(default)]
    pub cards: Vec<Card>,
    pub cursor: CardsCursor,
}

/// One size of one product on one WB warehouse (`stocks-report/wb-warehouses`). Since
/// 2026-08-15 WB reports its Russian warehouses as one `warehouse_id = -999999`, so the
/// warehouse is descriptive, not a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WbStockRow {
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
    #[serde(rename = "inWayToClient", default)]
    pub in_way_to_client: i64,
    #[serde(rename = "inWayFromClient", default)]
    pub in_way_from_client: i64,
}

/// WB's id for its aggregated Russian warehouses in the stock report.
pub const AGGREGATE_WB_WAREHOUSE_ID: i64 = -999_999;

/// One row of the warehouse_remains report: one size of one product (when grouped by
/// article, barcode and size, as [`crate::WbSession::warehouse_remains_report`] asks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemainsRow {
    #[serde(default)]
    pub brand: String,
    #[serde(rename = "subjectName", default)]
    pub subject_name: String,
    #[serde(rename = "vendorCode", default)]
    pub vendor_code: String,
    #[serde(rename = "nmId")]
    pub nm_id: i64,
    #[serde(default)]
    pub barcode: String,
    #[serde(rename = "techSize", default)]
    pub tech_size: String,
    #[serde(default)]
    pub volume: Option<f64>,
    /// Real warehouses and WB's summary lines mixed, only non-zero quantities; see
    /// [`RemainsRow::stock_warehouses`] and the summary accessors.
    #[serde(default)]
    pub warehouses: Vec<RemainsWarehouse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemainsWarehouse {
    #[serde(rename = "warehouseName")]
    pub warehouse_name: String,
    #[serde(default)]
    pub quantity: i64,
}

/// Summary lines WB mixes into `warehouses` (with `locale=ru`, which the client always asks
/// for so these names are stable).
pub const REMAINS_IN_WAY_TO_CLIENT: &str = "В пути до получателей";
pub const REMAINS_IN_WAY_FROM_CLIENT: &str = "В пути возвраты на склад WB";
pub const REMAINS_TOTAL: &str = "Всего находится на складах";

impl RemainsRow {
    fn named(&self, name: &str) -> i64 {
        self.warehouses
            .iter()
            .filter(|w| w.warehouse_name == name)
            .map(|w| w.quantity)
            .sum()
    }

    pub fn in_way_to_client(&self) -> i64 {
        self.named(REMAINS_IN_WAY_TO_CLIENT)
    }

    pub fn in_way_from_client(&self) -> i64 {
        self.named(REMAINS_IN_WAY_FROM_CLIENT)
    }

    /// WB's own total over warehouses, when it sent one.
    pub fn total_on_warehouses(&self) -> Option<i64> {
        self.warehouses
            .iter()
            .any(|w| w.warehouse_name == REMAINS_TOTAL)
            .then(|| self.named(REMAINS_TOTAL))
    }

    /// The lines that are warehouses (real ones or WB's "Склад WB РФ" aggregates).
    pub fn stock_warehouses(&self) -> impl Iterator<Item = &RemainsWarehouse> {
        self.warehouses.iter().filter(|w| {
            !matches!(
                w.warehouse_name.as_str(),
                REMAINS_IN_WAY_TO_CLIENT | REMAINS_IN_WAY_FROM_CLIENT | REMAINS_TOTAL
            )
        })
    }
}

/// A seller's own (FBS/DBS) warehouse (`GET /api/v3/warehouses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerWarehouse {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    /// The WB office the warehouse is attached to.
    #[serde(rename = "officeId", default)]
    pub office_id: Option<i64>,
    /// 1 small, 2 oversized (SGT), 3 large (KGT+).
    #[serde(rename = "cargoType", default)]
    pub cargo_type: Option<i32>,
    /// 1 FBS, 2 DBS, 3 DBW, 5 click & collect, 6 express DBS.
    #[serde(rename = "deliveryType", default)]
    pub delivery_type: Option<i32>,
    #[serde(rename = "isDeleting", default)]
    pub is_deleting: bool,
    #[serde(rename = "isProcessing", default)]
    pub is_processing: bool,
}

/// Stock of one size on a seller warehouse (`POST /api/v3/stocks/{warehouseId}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerStock {
    #[serde(rename = "chrtId")]
    pub chrt_id: i64,
    pub amount: i64,
}

// Envelopes: only the client needs these.

#[derive(Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub data: T,
}

#[derive(Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Deserialize)]
pub(crate) struct TaskCreated {
    #[serde(rename = "taskId")]
    pub task_id: String,
}

#[derive(Deserialize)]
pub(crate) struct TaskStatus {
    pub status: String,
}

#[derive(Deserialize)]
pub(crate) struct SellerStocksAnswer {
    #[serde(default)]
    pub stocks: Vec<SellerStock>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Trimmed copies of the bodies in /work/shared/wb-api/examples.

    #[test]
    fn cards_page_example() {
        let body = r#"{"cards":[{"nmID":12345678,"imtID":123654789,"subjectID":7771,
            "subjectName":"AKF системы","vendorCode":"wb7f6mumjr1","brand":"Тест",
            "title":"Тест-система","photos":[],"dimensions":{"length":55},
            "sizes":[{"chrtID":316399238,"techSize":"0","skus":["987456321654"]}],
            "createdAt":"2023-12-06T11:17:00.96577Z","updatedAt":"2023-12-06T11:17:00.96577Z"}],
            "cursor":{"updatedAt":"2023-12-06T11:17:00.96577Z","nmID":123654123,"total":1}}"#;
        let page: CardsPage = serde_json::from_str(body).unwrap();
        let card = &page.cards[0];
        assert_eq!((card.nm_id, card.imt_id), (12345678, 123654789));
        assert_eq!(card.sizes[0].chrt_id, 316399238);
        assert_eq!(card.sizes[0].wb_size, "");
        assert_eq!(card.sizes[0].skus, ["987456321654"]);
        assert_eq!(page.cursor.updated_at, "2023-12-06T11:17:00.96577Z");
        assert_eq!((page.cursor.nm_id, page.cursor.total), (123654123, 1));
    }

    #[test]
    fn stock_report_example() {
        let body = r#"{"data":{"items":[{"nmId":47254354,"chrtId":91663228,
            "warehouseId":-999999,"warehouseName":"Склад WB","regionName":"Склад WB",
            "quantity":43,"inWayToClient":14,"inWayFromClient":11}]}}"#;
        let rows: DataEnvelope<Items<WbStockRow>> = serde_json::from_str(body).unwrap();
        let row = &rows.data.items[0];
        assert_eq!(row.warehouse_id, AGGREGATE_WB_WAREHOUSE_ID);
        assert_eq!(
            (row.quantity, row.in_way_to_client, row.in_way_from_client),
            (43, 14, 11)
        );
    }

    #[test]
    fn remains_example_separates_summary_lines() {
        let body = r#"[{"brand":"Wonderful","subjectName":"Фотоальбомы",
            "vendorCode":"41058/прозрачный","nmId":183804172,"barcode":"2037031652319",
            "techSize":"0","volume":1.33,"warehouses":[
              {"warehouseName":"В пути до получателей","quantity":14},
              {"warehouseName":"В пути возвраты на склад WB","quantity":4},
              {"warehouseName":"Всего находится на складах","quantity":267},
              {"warehouseName":"Склад WB РФ","quantity":134},
              {"warehouseName":"Склад WB СГТ РФ","quantity":10},
              {"warehouseName":"Минск","quantity":123}]}]"#;
        let rows: Vec<RemainsRow> = serde_json::from_str(body).unwrap();
        let row = &rows[0];
        assert_eq!(row.in_way_to_client(), 14);
        assert_eq!(row.in_way_from_client(), 4);
        assert_eq!(row.total_on_warehouses(), Some(267));
        let names: Vec<_> = row
            .stock_warehouses()
            .map(|w| w.warehouse_name.as_str())
            .collect();
        assert_eq!(names, ["Склад WB РФ", "Склад WB СГТ РФ", "Минск"]);
    }

    #[test]
    fn marketplace_examples() {
        let body = r#"[{"name":"ул. Троицкая","officeId":15,"id":1,"cargoType":1,
            "deliveryType":1,"isDeleting":false,"isProcessing":true}]"#;
        let rows: Vec<SellerWarehouse> = serde_json::from_str(body).unwrap();
        assert_eq!((rows[0].id, rows[0].office_id), (1, Some(15)));
        assert!(rows[0].is_processing);
        let answer: SellerStocksAnswer =
            serde_json::from_str(r#"{"stocks":[{"chrtId":12345678,"amount":10}]}"#).unwrap();
        assert_eq!(
            answer.stocks,
            [SellerStock {
                chrt_id: 12345678,
                amount: 10
            }]
        );
    }
}
