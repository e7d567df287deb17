//! The worker binary's integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

mod crash;
mod crash_loop;
mod lifecycle;
mod maintenance;
mod pg_restart;
mod shutdown;
