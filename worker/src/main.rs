//! `stock-tracker-worker`: runs background jobs (tenant syncs) from the PostgreSQL queue.

use std::process::ExitCode;
use stock_tracker_shared::config::{self as shared_config, Env};
use stock_tracker_shared::{service, telemetry};
use stock_tracker_worker::config::WorkerConfig;
use stock_tracker_worker::sync_job;

const SERVICE: &str = "stock-tracker-worker";

#[tokio::main]
async fn main() -> ExitCode {
    let config = shared_config::exit_on_error(WorkerConfig::from_env(&Env::from_process()));
    let _telemetry = telemetry::init(SERVICE, &config.common);
    let shutdown = telemetry::Shutdown::listen();
    let connections = tokio::select! {
        result = service::connect(&config.common, SERVICE) => match result {
            Ok(c) => c,
            Err(e) => {
                eprintln!("configuration error: {e}");
                return ExitCode::from(2);
            }
        },
        () = shutdown.clone().wait() => return ExitCode::SUCCESS,
    };
    match sync_job::run(&config, connections, shutdown.wait()).await {
        Ok(()) => {
            tracing::info!(service = SERVICE, "worker stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "worker failed");
            ExitCode::FAILURE
        }
    }
}
