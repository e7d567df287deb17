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

/// Which row of WB's limit tables a request falls in, and WB's name for who may call an
/// operation (`x-token-types`): the token type, and for base tokens whether the request
/// carried our service secret (`X-Client-Secret`). Personal and service tokens keep their
/// own rows with or without the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitRow {
    Personal,
    Service,
    BaseWithSecret,
    Base,
    /// Not a row of WB's tables: test tokens work against sandboxes only.
    Test,
}

impl LimitRow {
    pub const ALL: [LimitRow; 5] = [
        LimitRow::Personal,
        LimitRow::Service,
        LimitRow::BaseWithSecret,
        LimitRow::Base,
        LimitRow::Test,
    ];

    pub fn of(token_type: TokenType, with_secret: bool) -> Self {
        match token_type {
            TokenType::Personal => LimitRow::Personal,
            TokenType::Service => LimitRow::Service,
            TokenType::Base if with_secret => LimitRow::BaseWithSecret,
            TokenType::Base => LimitRow::Base,
            TokenType::Test => LimitRow::Test,
        }
    }

    /// As the spec files spell it in `x-token-types`.
    pub fn name(self) -> &'static str {
        match self {
            LimitRow::Personal => "personal",
            LimitRow::Service => "service",
            LimitRow::BaseWithSecret => "base-with-secret",
            LimitRow::Base => "base",
            LimitRow::Test => "test",
        }
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

    /// The limit in WB's table row `row`: base tokens without the service secret get far
    /// less on the report methods; base and test tokens less on Marketplace. The rows follow
    /// the spec files' `description_limit` tables (checked by `tests/it/spec_limits.rs`);
    /// where the spec gives one row for every type, the portal's Marketplace example (base
    /// and test 150/min, burst 10) is the stricter reading and is kept.
    pub fn limit_for(self, row: LimitRow) -> Limit {
        use LimitRow::{Base, Test};
        match self {
            Method::SellerWarehouses | Method::SellerStocks if matches!(row, Base | Test) => {
                Limit::new(MINUTE, 150, 10)
            }
            Method::WarehouseRemainsCreate
            | Method::WarehouseRemainsStatus
            | Method::WarehouseRemainsDownload
                if row == Base =>
            {
                Limit::new(HOUR, 4, 1)
            }
            Method::SupplierOrders if row == Base => Limit::new(3 * HOUR, 1, 1),
            Method::SupplierSales if row == Base => Limit::new(2 * HOUR, 1, 1),
            _ => self.limit(),
        }
    }

    /// The token types WB lets call this operation (`x-token-types` in the spec files);
    /// `None` where the spec has no such list, which WB documents as "any token type".
    pub fn token_types(self) -> Option<&'static [LimitRow]> {
        use LimitRow::{BaseWithSecret, Personal, Service};
        match self {
            Method::StocksReportWbWarehouses => Some(&[Personal, Service, BaseWithSecret]),
            // Added after the spec snapshot (2026-08-24): "personal and service tokens".
            Method::StocksReportSellerWarehouses => Some(&[Personal, Service]),
            _ => None,
        }
    }

    /// Whether a request in `row` may call this operation. Test tokens only reach WB's
    /// sandbox (or ours), which serves every method to them.
    pub fn allows(self, row: LimitRow) -> bool {
        row == LimitRow::Test || self.token_types().is_none_or(|rows| rows.contains(&row))
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
            Method::SupplierOrders.limit_for(LimitRow::Base).per,
            3 * HOUR
        );
        assert_eq!(
            Method::CardsList.limit_for(LimitRow::Base),
            Method::CardsList.limit()
        );
    }

    #[test]
    fn limit_row_follows_token_type_and_secret() {
        let row = LimitRow::of;
        assert_eq!(row(TokenType::Base, false), LimitRow::Base);
        assert_eq!(row(TokenType::Base, true), LimitRow::BaseWithSecret);
        assert_eq!(row(TokenType::Personal, true), LimitRow::Personal);
        assert_eq!(row(TokenType::Service, false), LimitRow::Service);
        // The secret lifts a base token from 1 per 3 hours to 1 a minute on orders.
        let orders = Method::SupplierOrders;
        assert_eq!(orders.limit_for(row(TokenType::Base, false)).per, 3 * HOUR);
        assert_eq!(orders.limit_for(row(TokenType::Base, true)).per, MINUTE);
        assert_eq!(
            Method::WarehouseRemainsCreate.limit_for(LimitRow::BaseWithSecret),
            Method::WarehouseRemainsCreate.limit_for(LimitRow::Service)
        );
        // And lets it call the stock report at all.
        assert!(!Method::StocksReportWbWarehouses.allows(LimitRow::Base));
        assert!(Method::StocksReportWbWarehouses.allows(LimitRow::BaseWithSecret));
        assert!(Method::WarehouseRemainsCreate.allows(LimitRow::Base));
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
