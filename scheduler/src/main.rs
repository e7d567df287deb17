//! `stock-tracker-scheduler`: every minute (apalis-cron), queues this period's maintenance
//! jobs and a sync for each tenant that is due (see the library, `stock_tracker_scheduler`).

use std::process::ExitCode;
use stock_tracker_scheduler::SchedulerConfig;
use stock_tracker_shared::service;

const SERVICE: &str = "stock-tracker-scheduler";

fn main() -> ExitCode {
    service::run(
        SERVICE,
        SchedulerConfig::from_env,
        |config, shutdown| async move {
            let connections =
                match service::connect_or_exit(&config.common, SERVICE, &shutdown).await {
                    Ok(c) => c,
                    Err(code) => return code,
                };
            service::exit(
                "scheduler",
                stock_tracker_scheduler::run(config, connections, shutdown.wait()).await,
            )
        },
    )
}
