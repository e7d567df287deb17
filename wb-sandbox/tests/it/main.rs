//! The WB sandbox's integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

mod analytics;
mod catalog;
mod common;
mod content;
mod control;
mod marketplace;
mod rate_limit;
mod statistics;
