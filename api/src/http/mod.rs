//! HTTP conventions every endpoint shares: request ids, JSON bodies, client addresses,
//! metrics, pagination.

pub mod app_metrics;
pub mod cached;
pub mod client_ip;
pub mod input;
pub mod invalidations;
pub mod metrics;
pub mod pagination;
pub mod problems;
pub mod process_cache;
pub mod quota;
pub mod request_id;
