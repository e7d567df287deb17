//! The typed Wildberries seller-API client.
//!
//! - `token`: what a token's claims say (type, categories, expiry), read without verifying.
//! - `config`: hosts, timeouts, retries and the budget scale from the environment.
//! - `limits`: WB's published rate limits per method and limit row, as data.
//! - `policy`: which token types this service takes, and what each can sync.
//! - `budget`: the per-(token, method) rate budget shared through Redis.
//! - `client`: [`WbClient`] per process, [`WbSession`] per sync, and the request loop;
//!   `cards`, `wb_stocks`, `seller_stocks` and `seller_report` add the typed calls to
//!   [`WbSession`].

pub mod budget;
mod cards;
pub mod client;
pub mod config;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod policy;
mod retry;
mod seller_report;
mod seller_stocks;
pub mod token;
mod wb_stocks;

pub use budget::Budget;
pub use cards::{CARDS_PAGE_MAX, Listing};
pub use client::{WbClient, WbSession};
pub use config::WbConfig;
pub use error::WbError;
pub use limits::{Host, Limit, LimitRow, Method};
pub use metrics::WbMetrics;
pub use models::{
    AGGREGATE_WB_WAREHOUSE_ID, Card, CardSize, CardsCursor, CardsPage, RemainsRow,
    RemainsWarehouse, SellerStock, SellerWarehouse, WbStockRow,
};
pub use policy::{Capability, Refusal, TokenPolicy};
pub use seller_report::SellerWarehouseStockRow;
pub use seller_stocks::SELLER_STOCKS_CHUNK;
pub use token::{Category, TokenError, TokenFacts, TokenType};
pub use wb_stocks::STOCKS_REPORT_PAGE_MAX;
