//! An in-process HTTP simulator of the Wildberries seller API, for tests, demos and
//! benchmarks of the Stock Tracker.
//!
//! One router serves the paths of every WB host the product uses (content, analytics,
//! marketplace, statistics, `/ping`), with WB-shaped tokens, error bodies and rate limits.
//! Data comes from [`catalog`], a pure function of (seller id, [`SandboxConfig`], tick), so a
//! test can compute exactly what the sandbox will answer. See `README.md` in this crate.

// The simulator's numbers are its own (seeded arithmetic on small catalog sizes), never a
// value from outside, so the workspace's cast lints, meant for outside values, do not apply.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod catalog;
mod config;
mod errors;
pub mod prng;
pub mod rate_limit;
mod routes;
mod service_auth;
mod state;
pub mod timefmt;
pub mod tokens;
mod words;

use std::future::Future;
use std::net::SocketAddr;

pub use config::{ConfigError, MAX_WB_WAREHOUSES, SandboxConfig};
pub use routes::policies;
pub use tokens::{Category, SANDBOX_SERVICE_ID, TokenOptions, TokenType, mint_token};

/// Every simulated WB endpoint plus the `/__sandbox/*` control endpoints.
pub fn router(cfg: SandboxConfig) -> axum::Router {
    routes::build(state::AppState::new(cfg))
}

/// Serves until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, cfg: SandboxConfig) -> std::io::Result<()> {
    axum::serve(listener, router(cfg)).await
}

/// The same, checking `X-Client-Secret` against `client_secrets` (see `service_auth.rs`).
pub fn router_with_secrets(cfg: SandboxConfig, client_secrets: Vec<String>) -> axum::Router {
    routes::build(state::AppState::with_service_auth(
        cfg,
        service_auth::ServiceAuth::with_secrets(client_secrets),
    ))
}

/// Serves until `shutdown` completes, then finishes in-flight requests. Reads
/// `WB_SANDBOX_CLIENT_SECRETS` (comma-separated) for the service secrets it accepts.
pub async fn serve_with_shutdown(
    listener: tokio::net::TcpListener,
    cfg: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router_with_secrets(cfg, service_auth::secrets_from_env()),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A sandbox running on a background task; dropping it stops the server.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`, usable as the base URL of every WB host.
    pub base_url: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1 on a free port and serves there in the background.
pub async fn spawn(cfg: SandboxConfig) -> std::io::Result<RunningSandbox> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve(listener, cfg));
    Ok(RunningSandbox {
        addr,
        base_url: format!("http://{addr}"),
        task,
    })
}
