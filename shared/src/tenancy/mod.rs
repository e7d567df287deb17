//! The tenant-scoped data layer.
//!
//! Isolation is enforced by PostgreSQL row-level security (see the migrations); this module
//! makes the application's side of the contract hard to get wrong: the pool connects as a
//! role that cannot bypass RLS ([`pool::verify_app_role`]), and [`begin`] is the one way to
//! open a transaction with a tenant (or user) context. Settings are transaction-local, so
//! nothing leaks to the next borrower of a pooled connection.

pub mod migrate;
pub mod pool;
mod scope;

pub use scope::{Scope, Tx, begin, end_read, rescope};
