//! Cross-binary integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod auth;
mod billing;
mod billing_stall;
mod billing_sync;
mod cache_bounds;
mod credentials;
mod database_limits;
mod definer_functions;
mod history_partitions;
mod http_conventions;
mod input_problems;
mod job_reliability;
mod key_rotation;
mod planner_stats;
mod process_cache;
mod read_plans;
mod role_cache;
mod scheduler;
mod secrets;
mod sync_e2e;
mod sync_economy;
mod sync_failures;
mod team;
mod team_removal;
mod tenancy;
mod tenancy_sync;
mod token_policy;
mod wb_service_unpaid;
