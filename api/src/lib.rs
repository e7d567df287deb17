//! The Stock Tracker HTTP API. `main.rs` wires configuration to [`app::serve`]; tests build
//! the same router in-process.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod openapi;
pub mod routes;
pub mod state;
