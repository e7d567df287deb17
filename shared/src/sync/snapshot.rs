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

/// Where a kind of stock came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockSource {
    /// WB warehouses: `stocks-report/wb-warehouses`.
    StocksReport,
    /// WB warehouses: the async `warehouse_remains` report (base tokens).
    WarehouseRemains,
    /// Seller warehouses: `stocks-report/seller-warehouses`.
    SellerWarehousesReport,
    /// Seller warehouses: `/api/v3/stocks/{id}` per warehouse (tokens that may not use the
    /// report). Live data, not a report.
    MarketplaceStocks,
}

impl StockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StockSource::StocksReport => "stocks_report",
            StockSource::WarehouseRemains => "warehouse_remains",
            StockSource::SellerWarehousesReport => "seller_warehouses_report",
            StockSource::MarketplaceStocks => "marketplace_stocks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            StockSource::StocksReport,
            StockSource::WarehouseRemains,
            StockSource::SellerWarehousesReport,
            StockSource::MarketplaceStocks,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// A report WB recomputes on its own schedule (every 30 minutes): asking again sooner
    /// returns the same rows.
    pub fn is_report(self) -> bool {
        self != StockSource::MarketplaceStocks
    }
}

/// Whether a sync listed every card or only those changed since the last listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CardsListing {
    #[default]
    Full,
    Incremental,
}

impl CardsListing {
    pub fn as_str(self) -> &'static str {
        match self {
            CardsListing::Full => "full",
            CardsListing::Incremental => "incremental",
        }
    }
}

/// WB's card cursor, kept exactly as WB wrote it: where the next listing of changes starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardsResume {
    pub updated_at: String,
    pub nm_id: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every card (a full listing) or the changed ones (incremental), as `listing` says.
    pub products: Vec<ProductRow>,
    pub sizes: Vec<SizeRow>,
    pub listing: CardsListing,
    /// Where the next incremental listing starts; `None` when no card was seen.
    pub resume: Option<CardsResume>,
    /// Warehouses and stock of the kinds in `fresh` only.
    pub warehouses: Vec<WarehouseRow>,
    pub stocks: Vec<StockRow>,
    /// The kinds of stock read from WB in this sync, with their sources. Other kinds keep
    /// the stock stored by an earlier sync.
    pub fresh: Vec<(WarehouseKind, StockSource)>,
    /// True when a full listing reached the plan's product limit.
    pub truncated: bool,
}

impl Snapshot {
    /// The source of the kind's stock if this sync read it.
    pub fn source(&self, kind: WarehouseKind) -> Option<StockSource> {
        self.fresh.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s)
    }
}
