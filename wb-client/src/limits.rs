//! Wildberries' published rate limits, per method, as data.
//!
//! The numbers come from the spec snapshot (`/work/shared/wb-api/spec-2026-08-18`) and the
//! README table. WB enforces them as token buckets per seller account and method, so the
//! client keeps a matching bucket per (token, method) in Redis and rarely sees a 429.

use crate::token::TokenType;
use serde::Serialize;
use std::time::Duration;

/// The WB API hosts the product talks to. Each one is configured separately because WB
/// splits categories by host, and tests point all of them at one local server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    Content,
    Analytics,
    Marketplace,
    Statistics,
}

impl Host {
    pub const ALL: [Host; 4] = [
        Host::Content,
        Host::Analytics,
        Host::Marketplace,
        Host::Statistics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Host::Content => "content",
            Host::Analytics => "analytics",
            Host::Marketplace => "marketplace",
            Host::Statistics => "statistics",
        }
    }
}

/// A token bucket: `requests` per `per` on average, at most `burst` back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub per: Duration,
    pub requests: u32,
    pub burst: u32,
}

impl Limit {
    pub const fn new(per: Duration, requests: u32, burst: u32) -> Self {
        Self {
            per,
            requests,
            burst,
        }
    }

    /// The even spacing WB asks for between requests once the burst is spent.
    pub fn interval(&self) -> Duration {
        self.per / self.requests.max(1)
    }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const MINUTE: Duration = secs(60);
const HOUR: Duration = secs(3600);

/// One WB API operation the product calls.
///
/// `Ping` carries its host because WB limits `/ping` separately on every host: checking a
/// new token against four hosts must not spend one shared budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Ping(Host),
    CardsList,
    StocksReportWbWarehouses,
    /// Stock on the seller's own warehouses in one report (WB, 2026-08-24), instead of
    /// `SellerStocks` per warehouse.
    StocksReportSellerWarehouses,
    WarehouseRemainsCreate,
    WarehouseRemainsStatus,
    WarehouseRemainsDownload,
    SellerWarehouses,
    SellerStocks,
    SupplierOrders,
    SupplierSales,
}

impl Method {
    pub fn host(self) -> Host {
        match self {
            Method::Ping(host) => host,
            Method::CardsList => Host::Content,
            Method::StocksReportWbWarehouses
            | Method::StocksReportSellerWarehouses
            | Method::WarehouseRemainsCreate
            | Method::WarehouseRemainsStatus
            | Method::WarehouseRemainsDownload => Host::Analytics,
            Method::SellerWarehouses | Method::SellerStocks => Host::Marketplace,
            Method::SupplierOrders | Method::SupplierSales => Host::Statistics,
        }
    }

    /// The path as the spec writes it, with `{…}` parameters left unfilled.
    pub fn path_template(self) -> &'static str {
        match self {
            Method::Ping(_) => "/ping",
            Method::CardsList => "/content/v2/get/cards/list",
            Method::StocksReportWbWarehouses => "/api/analytics/v1/stocks-report/wb-warehouses",
            Method::StocksReportSellerWarehouses => {
                "/api/analytics/v1/stocks-report/seller-warehouses"
            }
            Method::WarehouseRemainsCreate => "/api/v1/warehouse_remains",
            Method::WarehouseRemainsStatus => "/api/v1/warehouse_remains/tasks/{task_id}/status",
            Method::WarehouseRemainsDownload => {
                "/api/v1/warehouse_remains/tasks/{task_id}/download"
            }
            Method::SellerWarehouses => "/api/v3/warehouses",
            Method::SellerStocks => "/api/v3/stocks/{warehouseId}",
            Method::SupplierOrders => "/api/v1/supplier/orders",
            Method::SupplierSales => "/api/v1/supplier/sales",
        }
    }

    /// The limit for personal and service tokens, which is what the product asks sellers for.
    pub fn limit(self) -> Limit {
        match self {
            // "3 requests per 30 seconds"; WB gives no burst, so all three may go at once.
            Method::Ping(_) => Limit::new(secs(30), 3, 3),
            Method::CardsList => Limit::new(MINUTE, 100, 5),
            Method::StocksReportWbWarehouses => Limit::new(MINUTE, 3, 1),
            // Release note of 2026-08-24: 3 a minute, interval 20 s, burst 1.
            Method::StocksReportSellerWarehouses => Limit::new(MINUTE, 3, 1),
            Method::WarehouseRemainsCreate => Limit::new(MINUTE, 1, 5),
            Method::WarehouseRemainsStatus => Limit::new(secs(5), 1, 5),
            Method::WarehouseRemainsDownload => Limit::new(MINUTE, 1, 1),
            // The spec lists warehouses and stocks separately; the portal's example gives
            // one budget for the whole Marketplace category. Sharing one bucket is safe.
            Method::SellerWarehouses | Method::SellerStocks => Limit::new(MINUTE, 300, 20),
            Method::SupplierOrders => Limit::new(MINUTE, 1, 10),
            Method::SupplierSales => Limit::new(MINUTE, 1, 1),
        }
    }

    /// The limit for a given token type: base and test tokens get far less on some methods.
    pub fn limit_for(self, token_type: TokenType) -> Limit {
        let lower = matches!(token_type, TokenType::Base | TokenType::Test);
        match self {
            Method::SellerWarehouses | Method::SellerStocks if lower => Limit::new(MINUTE, 150, 10),
            Method::WarehouseRemainsCreate
            | Method::WarehouseRemainsStatus
            | Method::WarehouseRemainsDownload
                if token_type == TokenType::Base =>
            {
                Limit::new(HOUR, 4, 1)
            }
            Method::SupplierOrders if token_type == TokenType::Base => Limit::new(3 * HOUR, 1, 1),
            Method::SupplierSales if token_type == TokenType::Base => Limit::new(2 * HOUR, 1, 1),
            _ => self.limit(),
        }
    }

    /// Stable name for metric labels and logs. Every ping is "ping" so the label set stays
    /// small; [`Method::bucket`] tells the hosts apart.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ping(_) => "ping",
            Method::CardsList => "cards_list",
            Method::StocksReportWbWarehouses => "stocks_report_wb_warehouses",
            Method::StocksReportSellerWarehouses => "stocks_report_seller_warehouses",
            Method::WarehouseRemainsCreate => "warehouse_remains_create",
            Method::WarehouseRemainsStatus => "warehouse_remains_status",
            Method::WarehouseRemainsDownload => "warehouse_remains_download",
            Method::SellerWarehouses => "seller_warehouses",
            Method::SellerStocks => "seller_stocks",
            Method::SupplierOrders => "supplier_orders",
            Method::SupplierSales => "supplier_sales",
        }
    }

    /// The Redis key part of this method's rate bucket.
    pub fn bucket(self) -> &'static str {
        match self {
            Method::Ping(Host::Content) => "ping_content",
            Method::Ping(Host::Analytics) => "ping_analytics",
            Method::Ping(Host::Marketplace) => "ping_marketplace",
            Method::Ping(Host::Statistics) => "ping_statistics",
            // See `limit`: one marketplace bucket is the conservative reading.
            Method::SellerWarehouses | Method::SellerStocks => "marketplace_v3",
            other => other.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_limits() {
        assert_eq!(Method::CardsList.limit(), Limit::new(MINUTE, 100, 5));
        assert_eq!(Method::StocksReportWbWarehouses.limit().burst, 1);
        assert_eq!(
            Method::WarehouseRemainsStatus.limit().interval(),
            secs(5),
            "status may be polled once per 5 s"
        );
        assert_eq!(
            Method::SellerStocks.limit().interval(),
            Duration::from_millis(200)
        );
        assert_eq!(
            Method::SupplierOrders.limit_for(TokenType::Base).per,
            3 * HOUR
        );
        assert_eq!(
            Method::CardsList.limit_for(TokenType::Base),
            Method::CardsList.limit()
        );
    }

    #[test]
    fn hosts_and_bucket_names() {
        assert_eq!(Method::SellerStocks.host(), Host::Marketplace);
        assert_eq!(Method::WarehouseRemainsDownload.host(), Host::Analytics);
        assert_eq!(Method::Ping(Host::Statistics).host(), Host::Statistics);
        assert_eq!(Method::Ping(Host::Content).name(), "ping");
        assert_ne!(
            Method::Ping(Host::Content).bucket(),
            Method::Ping(Host::Analytics).bucket()
        );
        assert_eq!(
            Method::SellerWarehouses.bucket(),
            Method::SellerStocks.bucket()
        );
    }
}
