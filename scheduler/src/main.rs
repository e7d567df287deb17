//! `stock-tracker-scheduler`: every minute (apalis-cron), queues a sync for each tenant
//! that is due. Replicas are safe: ticks are serialised by an advisory lock and each
//! (tenant, due slot) can be queued once (see `shared::jobs::schedule`).

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use stock_tracker_shared::billing::StripeConfig;
use stock_tracker_shared::billing::reconcile;
use stock_tracker_shared::billing::stripe::StripeApi;
use stock_tracker_shared::config::{self, CommonConfig, ConfigError, Env};
use stock_tracker_shared::jobs::{housekeeping, schedule};
use stock_tracker_shared::metrics::TickMetrics;
use stock_tracker_shared::{service, telemetry};

const SERVICE: &str = "stock-tracker-scheduler";

#[derive(Clone, Copy)]
struct Retention {
    run_days: i32,
    history_days: i32,
}

struct SchedulerConfig {
    common: CommonConfig,
    retention: Retention,
    /// Where Prometheus scrapes the scheduler.
    metrics_bind: std::net::SocketAddr,
    /// When ticks fire; cron syntax with a seconds field first.
    cron: cron::Schedule,
    /// Without Stripe settings there is nothing to reconcile.
    stripe: Option<StripeConfig>,
}

impl SchedulerConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw = env
            .optional("SCHEDULER_CRON")
            .unwrap_or_else(|| "0 * * * * *".to_string());
        let cron = cron::Schedule::from_str(&raw).map_err(|e| {
            ConfigError::malformed("SCHEDULER_CRON", format!("not a cron expression: {e}"))
        })?;
        let retention = Retention {
            run_days: env.parse_or("RETENTION_SYNC_RUNS_DAYS", 90)?,
            history_days: env.parse_or("RETENTION_STOCK_HISTORY_DAYS", 365)?,
        };
        if retention.run_days < 1 || retention.history_days < 1 {
            return Err(ConfigError::malformed(
                "RETENTION_SYNC_RUNS_DAYS",
                "retention periods are at least one day",
            ));
        }
        Ok(Self {
            metrics_bind: env.parse_or(
                "SCHEDULER_METRICS_BIND",
                std::net::SocketAddr::from(([127, 0, 0, 1], 9102)),
            )?,
            retention,
            common: CommonConfig::from_env(env)?,
            stripe: StripeConfig::from_env(env)?,
            cron,
        })
    }
}

async fn on_tick(
    tick: Tick,
    db: Data<PgPool>,
    retention: Data<Retention>,
    metrics: Data<TickMetrics>,
    stripe: Data<Option<StripeApi>>,
) -> Result<(), BoxDynError> {
    let now = DateTime::from_timestamp(tick.get_timestamp() as i64, 0).unwrap_or_else(Utc::now);
    // Housekeeping is idempotent and cheap on its indexes, so every tick may do it; a
    // failure is logged and retried next tick without holding up the syncs.
    match housekeeping::warn_expiring_tokens(&db, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, "recorded WB token expiry warnings"),
        Err(e) => tracing::warn!(error = %e, "token expiry check failed"),
    }
    match housekeeping::purge(&db, now, retention.run_days, retention.history_days).await {
        Ok((0, 0)) => {}
        Ok((runs, history)) => tracing::info!(runs, history, "purged old sync runs and history"),
        Err(e) => tracing::warn!(error = %e, "retention clean-up failed"),
    }
    if let Some(stripe) = (*stripe).clone() {
        // Once a day, off the tick's path: re-reading every subscription takes a while.
        let (db, metrics) = ((*db).clone(), (*metrics).clone());
        tokio::spawn(async move {
            match reconcile::run_if_due(&db, &stripe, now).await {
                Ok(None) => {}
                Ok(Some(done)) => {
                    metrics.reconciliation(if done.failed == 0 { "ok" } else { "error" });
                    tracing::info!(
                        checked = done.checked,
                        failed = done.failed,
                        "billing reconciled"
                    );
                }
                Err(e) => {
                    metrics.reconciliation("error");
                    tracing::warn!(error = %e, "billing reconciliation failed");
                }
            }
        });
    }
    match housekeeping::count_active_tenants(&db, now).await {
        Ok(n) => {
            metrics.tenants_active.set(n);
        }
        Err(e) => tracing::warn!(error = %e, "could not count active tenants"),
    }
    let started = std::time::Instant::now();
    let result = schedule::tick(&db, now).await;
    metrics.duration.observe(started.elapsed().as_secs_f64());
    match result {
        Ok(outcome) => {
            metrics.tick(if outcome.skipped { "skipped" } else { "ok" });
            metrics.queued.inc_by(outcome.queued as u64);
            tracing::info!(queued = outcome.queued, skipped = outcome.skipped, %now, "scheduler tick");
            Ok(())
        }
        Err(e) => {
            metrics.tick("error");
            tracing::error!(error = %e, %now, "scheduler tick failed; the next tick retries");
            Err(e.into())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = config::exit_on_error(SchedulerConfig::from_env(&Env::from_process()));
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
    let mut registry = Registry::with_prefix("stock_tracker");
    let metrics = TickMetrics::register(&mut registry);
    let bind = config.metrics_bind;
    let registry = Arc::new(registry);
    tokio::spawn(async move {
        if let Err(e) = stock_tracker_shared::metrics::serve(bind, registry).await {
            tracing::error!(error = %e, %bind, "metrics endpoint failed");
        }
    });
    let name = format!(
        "scheduler-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let stripe = match config.stripe.map(StripeApi::new).transpose() {
        Ok(stripe) => stripe,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let worker = WorkerBuilder::new(name.as_str())
        .backend(CronScheduler::new(config.cron))
        .data(connections.db.clone())
        .data(config.retention)
        .data(metrics)
        .data(stripe)
        .build(on_tick);
    tracing::info!(service = SERVICE, "scheduler ready");
    let result = worker
        .run_until(async {
            shutdown.wait().await;
            Ok::<(), std::io::Error>(())
        })
        .await;
    connections.db.close().await;
    match result {
        Ok(()) => {
            tracing::info!(service = SERVICE, "scheduler stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "scheduler failed");
            ExitCode::FAILURE
        }
    }
}
