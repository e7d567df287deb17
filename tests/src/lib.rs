//! The harness every integration test uses: a fresh database per test (cloned from a
//! migrated template, so it is fast), a Redis key prefix per test, the real api router on
//! a loopback port, and small helpers for the requests tests make again and again.

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod db;
pub mod http;
pub mod large_tenant;
pub mod lifecycle;
pub mod pg_cluster;
pub mod process;
pub mod stripe_fake;
pub mod tenancy_probe;
pub mod tenants;
pub mod wb_fake;
pub mod world;

pub use db::TestDb;
pub use http::{Session, TestApp};
