//! Cross-binary integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

mod auth;
mod billing;
mod billing_sync;
mod credentials;
mod http_conventions;
mod job_reliability;
mod key_rotation;
mod scheduler;
mod secrets;
mod sync_e2e;
mod sync_failures;
mod team;
mod tenancy;
mod tenancy_sync;
