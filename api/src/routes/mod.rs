//! HTTP handlers, one module per resource. Each handler documents itself for OpenAPI.

pub mod api_keys;
pub mod auth;
pub mod billing;
pub mod credentials;
pub mod health;
pub mod me;
pub mod members;
pub mod stock;
pub mod sync;
pub mod tenant;
mod views;

pub use views::*;
