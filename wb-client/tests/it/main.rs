//! The WB client's integration tests, against wiremock and the real Redis
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

mod wb_budget;
mod wb_client;
