//! `stock-tracker-scheduler`: every minute (apalis-cron), queues this period's maintenance
//! jobs and a sync for each tenant that is due (see the library, `stock_tracker_scheduler`).

use std::process::ExitCode;
use stock_tracker_scheduler::SchedulerConfig;
use stock_tracker_shared::service;

fn main() -> ExitCode {
    service::run_connected(
        "stock-tracker-scheduler",
        "scheduler",
        SchedulerConfig::from_env,
        |config, connections, shutdown| {
            stock_tracker_scheduler::run(config, connections, shutdown.wait())
        },
    )
}
