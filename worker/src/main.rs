//! `stock-tracker-worker`: runs background jobs (tenant syncs, maintenance) from the
//! PostgreSQL queue.

use std::process::ExitCode;
use stock_tracker_shared::service;
use stock_tracker_worker::config::WorkerConfig;
use stock_tracker_worker::sync_job;

fn main() -> ExitCode {
    service::run_connected(
        "stock-tracker-worker",
        "worker",
        WorkerConfig::from_env,
        |config, connections, shutdown| async move {
            sync_job::run(&config, connections, shutdown.wait()).await
        },
    )
}
