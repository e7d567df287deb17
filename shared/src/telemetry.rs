//! Logs, error reporting and the shutdown signal, set up the same way by every binary.

use crate::config::{CommonConfig, LogFormat};
use crate::service::TaskGuard;
use sentry::integrations::tracing::ErrorLayer;
use tracing_subscriber::{EnvFilter, filter::LevelFilter, fmt, prelude::*};

/// Keeps Sentry flushing until the binary exits; hold it in `main`.
pub struct TelemetryGuard {
    _sentry: Option<sentry::ClientInitGuard>,
}

pub fn init(service: &'static str, config: &CommonConfig) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        // Error-level events become Sentry events (a no-op while Sentry is not initialised).
        .with(ErrorLayer::new().with_filter(LevelFilter::ERROR));
    match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).init(),
    }
    // The DSN was validated by the config, so `dsn()` cannot panic here.
    let sentry = config.sentry_dsn.as_ref().map(|dsn| {
        let mut options = sentry::ClientOptions::new()
            .dsn(dsn.expose())
            .server_name(service)
            .send_default_pii(false);
        if let Some(release) = sentry::release_name!() {
            options = options.release(release);
        }
        sentry::init(options)
    });
    TelemetryGuard { _sentry: sentry }
}

/// SIGTERM or Ctrl-C, listened for once for the whole process.
///
/// A signal stream only sees signals that arrive while it exists, so a binary that made a
/// new stream for each phase (connecting, running) would lose a SIGTERM sent between two
/// of them. `listen` at start-up; every clone's `wait` then returns once the signal came,
/// whenever it is called.
#[derive(Clone)]
pub struct Shutdown {
    stopped: tokio::sync::watch::Receiver<bool>,
    /// The signal listener, aborted when the last clone is dropped.
    _listener: std::sync::Arc<TaskGuard>,
}

impl Shutdown {
    pub fn listen() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let listener = TaskGuard::spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(true);
        });
        Self {
            stopped: rx,
            _listener: std::sync::Arc::new(listener),
        }
    }

    pub async fn wait(mut self) {
        let _ = self.stopped.wait_for(|stopped| *stopped).await;
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
