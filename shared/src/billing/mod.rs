//! Billing in the tenant's data: each tenant's subscription and what it entitles, Stripe's
//! webhooks processed once, the daily reconciliation and the API-call quota. The plans and
//! the Stripe calls themselves are the crate `stock-tracker-stripe`.
//!
//! Access is decided in one place, the SQL function `subscription_access` (migration
//! 0005), so the scheduler's query and the api agree by construction.

pub mod reconcile;
pub mod refresh;
pub mod subscriptions;
pub mod trials;
pub mod usage;
pub mod webhook;

// The Stripe side (plans, settings, calls, signatures) is the crate `stock-tracker-stripe`.
pub use refresh::BillingError;
pub use stock_tracker_stripe::{BillingConfig, Limits, Plan, StripeConfig};
pub use subscriptions::{Access, TenantSubscription};
