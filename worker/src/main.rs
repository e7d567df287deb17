//! `stock-tracker-worker`: runs background jobs (tenant syncs, maintenance) from the
//! PostgreSQL queue.

use std::process::ExitCode;
use stock_tracker_shared::service;
use stock_tracker_worker::config::WorkerConfig;
use stock_tracker_worker::sync_job;

const SERVICE: &str = "stock-tracker-worker";

fn main() -> ExitCode {
    service::run(
        SERVICE,
        WorkerConfig::from_env,
        |config, shutdown| async move {
            let connections =
                match service::connect_or_exit(&config.common, SERVICE, &shutdown).await {
                    Ok(c) => c,
                    Err(code) => return code,
                };
            service::exit(
                "worker",
                sync_job::run(&config, connections, shutdown.wait()).await,
            )
        },
    )
}
