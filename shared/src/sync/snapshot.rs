//! What one sync read from Wildberries, in the shape the store writes.

use serde::{Deserialize, Serialize};

/// Whose warehouse a stock row is on; stored as `text` (`wb`, `seller`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum WarehouseKind {
    /// WB's own fulfilment warehouses (FBW).
    Wb,
    /// The seller's warehouses (FBS/DBS).
    Seller,
}

impl WarehouseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarehouseKind::Wb => "wb",
            WarehouseKind::Seller => "seller",
        }
    }
}

/// WB's id for its aggregated Russian warehouses since 2026-08-15.
pub const AGGREGATE_WAREHOUSE_ID: i64 = -999_999;

#[derive(Clone, Debug, PartialEq)]
pub struct ProductRow {
    pub nm_id: i64,
    pub imt_id: Option<i64>,
    pub vendor_code: String,
    pub brand: String,
    pub title: String,
    pub subject_name: String,
    pub wb_updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SizeRow {
    pub chrt_id: i64,
    pub nm_id: i64,
    pub tech_size: String,
    pub wb_size: String,
    pub barcodes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WarehouseRow {
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub name: String,
    pub region: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StockRow {
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub chrt_id: i64,
    pub nm_id: i64,
    pub quantity: i64,
    pub in_way_to_client: i64,
    pub in_way_from_client: i64,
}

/// Where the WB-warehouse stock came from: the direct report, or the async report that
/// base tokens fall back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockSource {
    StocksReport,
    WarehouseRemains,
}

impl StockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StockSource::StocksReport => "stocks_report",
            StockSource::WarehouseRemains => "warehouse_remains",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub products: Vec<ProductRow>,
    pub sizes: Vec<SizeRow>,
    pub warehouses: Vec<WarehouseRow>,
    pub stocks: Vec<StockRow>,
    pub source: Option<StockSource>,
    /// True when the plan's product limit cut the catalog short.
    pub truncated: bool,
}
