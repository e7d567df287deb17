//! The WB client's integration tests, against wiremock and the real Redis
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod conformance;
mod openapi;
mod spec_limits;
mod wb_budget;
mod wb_client;
mod wb_service_auth;
