//! Billing on Stripe: the plans we sell and what each allows, the Stripe settings, the
//! Stripe calls billing makes (through async-stripe), and webhook signature checks. No
//! database here: each tenant's subscription and what it entitles live in `shared`'s
//! `billing` module, which calls this crate.

pub mod config;
pub mod plans;
pub mod stripe;
pub mod webhook;

pub use config::{BillingConfig, StripeConfig};
pub use plans::{Limits, Plan};
pub use stripe::{StripeApi, StripeApiError};
