//! The worker binary's integration tests
//! (one binary for the crate's integration tests: linking the dependencies once is what
//! makes the test build fast; nextest still runs every test in its own process).

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod crash;
mod crash_loop;
mod internal_errors;
mod lifecycle;
mod maintenance;
mod pg_restart;
mod shutdown;
