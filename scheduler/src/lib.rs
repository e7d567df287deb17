//! The scheduler: on every cron tick (apalis-cron), [`tick`] queues the maintenance jobs of
//! the current period and a sync for each tenant that is due. Replicas are safe: maintenance
//! jobs are keyed by their period, sync ticks are serialised by an advisory lock and each
//! (tenant, due slot) can be queued once (see `shared::jobs::queue`). The tick itself does no
//! work besides queueing: reconciliation, retention and token warnings run in the worker.

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use std::str::FromStr;
use std::sync::Arc;
use stock_tracker_shared::config::{CommonConfig, ConfigError, Env};
use stock_tracker_shared::jobs::{MaintenanceJob, Retention, housekeeping, queue};
use stock_tracker_shared::metrics::TickMetrics;
use stock_tracker_shared::service::{Connections, ServiceConfig};

pub struct SchedulerConfig {
    pub common: CommonConfig,
    pub retention: Retention,
    /// Where Prometheus scrapes the scheduler.
    pub metrics_bind: std::net::SocketAddr,
    /// When ticks fire; cron syntax with a seconds field first.
    pub cron: cron::Schedule,
}

impl SchedulerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
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
            cron,
        })
    }
}

impl ServiceConfig for SchedulerConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// What one tick queued.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// Sync runs (with their jobs) queued for due tenants.
    pub syncs: usize,
    /// Another replica held the sync tick lock and queued this tick's syncs.
    pub skipped: bool,
    /// Maintenance jobs queued: those of a period no replica had queued yet.
    pub maintenance: usize,
}

/// One whole tick at `now` (the tick's scheduled time, identical on every replica): queue
/// this period's maintenance jobs, refresh the active-tenant gauge, queue the due syncs.
/// Only a failure to queue the syncs fails the tick; the rest is logged and retried by the
/// next tick.
pub async fn tick(
    db: &PgPool,
    now: DateTime<Utc>,
    retention: Retention,
    metrics: &TickMetrics,
) -> anyhow::Result<TickOutcome> {
    let mut outcome = TickOutcome::default();
    let maintenance = async {
        let mut conn = db.acquire().await?;
        queue::queue_maintenance(&mut conn, &MaintenanceJob::due(now, retention)).await
    };
    match maintenance.await {
        Ok(n) => {
            outcome.maintenance = n;
            metrics.maintenance_queued.inc_by(n as u64);
            if n > 0 {
                tracing::info!(queued = n, %now, "maintenance jobs queued");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not queue maintenance jobs"),
    }
    match housekeeping::count_active_tenants(db, now).await {
        Ok(n) => {
            metrics.tenants_active.set(n);
        }
        Err(e) => tracing::warn!(error = %e, "could not count active tenants"),
    }
    let started = std::time::Instant::now();
    let result = queue::queue_due_syncs(db, now).await;
    metrics.duration.observe(started.elapsed().as_secs_f64());
    match result {
        Ok(due) => {
            metrics.wb_syncs_paused.set(i64::from(due.paused));
            if due.paused {
                tracing::error!(%now, "syncing is paused: Wildberries answered 402 (our service balance is empty); top it up, then `stock-tracker-api wb-billing resume`");
            }
            metrics.tick(if due.paused {
                "paused"
            } else if due.skipped {
                "skipped"
            } else {
                "ok"
            });
            metrics.queued.inc_by(due.queued as u64);
            outcome.syncs = due.queued;
            outcome.skipped = due.skipped;
            tracing::info!(queued = due.queued, skipped = due.skipped, %now, "scheduler tick");
            Ok(outcome)
        }
        Err(e) => {
            metrics.tick("error");
            tracing::error!(error = %e, %now, "scheduler tick failed; the next tick retries");
            Err(e)
        }
    }
}

async fn on_tick(
    cron_tick: Tick,
    db: Data<PgPool>,
    retention: Data<Retention>,
    metrics: Data<TickMetrics>,
) -> Result<(), BoxDynError> {
    let now = i64::try_from(cron_tick.get_timestamp())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(Utc::now);
    tick(&db, now, *retention, &metrics).await?;
    Ok(())
}

/// Ticks on the configured schedule until `shutdown` resolves.
pub async fn run(
    config: SchedulerConfig,
    connections: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut registry = Registry::with_prefix("stock_tracker");
    let metrics = TickMetrics::register(&mut registry);
    let metrics_server =
        stock_tracker_shared::metrics::spawn_server(config.metrics_bind, Arc::new(registry));
    let name = format!(
        "scheduler-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let worker = WorkerBuilder::new(name.as_str())
        .backend(CronScheduler::new(config.cron))
        .data(connections.db.clone())
        .data(config.retention)
        .data(metrics)
        .build(on_tick);
    tracing::info!(service = "stock-tracker-scheduler", "scheduler ready");
    let result = worker
        .run_until(async {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await;
    metrics_server.stop().await;
    connections.db.close().await;
    Ok(result?)
}
