//! Billing: the plans, the Stripe calls, each tenant's subscription and what it entitles,
//! Stripe's webhooks, the daily reconciliation, API keys and the API-call quota.
//!
//! Access is decided in one place, the SQL function `subscription_access` (migration
//! 0005), so the scheduler's query and the api agree by construction.

pub mod config;
pub mod plans;
pub mod reconcile;
pub mod refresh;
pub mod stripe;
pub mod subscriptions;
pub mod usage;
pub mod webhook;

pub use config::{BillingConfig, StripeConfig};
pub use plans::{Limits, Plan};
pub use refresh::BillingError;
pub use subscriptions::{Access, TenantSubscription};
