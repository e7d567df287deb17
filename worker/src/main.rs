//! `stock-tracker-worker`: Runs background jobs (sync, alerts, webhooks) from the PostgreSQL job queue. The job
//! handlers arrive with the sync issue; this binary already owns start-up, readiness and a
//! clean SIGTERM.

use std::process::ExitCode;
use stock_tracker_shared::config::{self, CommonConfig, Env};
use stock_tracker_shared::{service, telemetry};

const SERVICE: &str = "stock-tracker-worker";

#[tokio::main]
async fn main() -> ExitCode {
    let config = config::exit_on_error(CommonConfig::from_env(&Env::from_process()));
    let _telemetry = telemetry::init(SERVICE, &config);
    let connections = tokio::select! {
        result = service::connect(&config, SERVICE) => match result {
            Ok(c) => c,
            Err(e) => {
                eprintln!("configuration error: {e}");
                return ExitCode::from(2);
            }
        },
        () = telemetry::shutdown_signal() => return ExitCode::SUCCESS,
    };
    tracing::info!(service = SERVICE, "worker ready");
    telemetry::shutdown_signal().await;
    connections.db.close().await;
    tracing::info!(service = SERVICE, "worker stopped");
    ExitCode::SUCCESS
}
