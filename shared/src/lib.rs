//! The domain library shared by the api, worker and scheduler binaries.
//!
//! Modules are named after capabilities, not layers: `config` reads the environment once,
//! `tenancy` owns the database pool and the tenant-scoped transaction helper every tenant
//! query goes through, `telemetry` sets up logs, Sentry and shutdown signals.

pub mod accounts;
pub mod billing;
pub mod cache;
pub mod config;
pub mod credentials;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod stock;
pub mod sync;
pub mod telemetry;
pub mod tenancy;
pub mod vault;

pub use stock_tracker_infra::{Secret, kv};
