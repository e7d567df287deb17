//! The worker's job consumers, as a library so tests run the real worker in-process.

pub mod config;
pub mod maintenance;
pub mod sync_job;
