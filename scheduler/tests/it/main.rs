//! The scheduler binary's integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

mod lifecycle;
mod metrics;
mod pg_restart;
mod tick;
