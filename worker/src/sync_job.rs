//! The job consumers: apalis on the PostgreSQL queue, one [`Syncer`] run per sync job and
//! the [`Maintenance`] jobs beside them.

use crate::config::WorkerConfig;
use crate::maintenance::{self, Maintenance};
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage, Pubsub};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use stock_tracker_shared::cache::TenantCache;
use stock_tracker_shared::jobs::{MAINTENANCE_QUEUE, MaintenanceJob, SYNC_QUEUE, SyncJob, queue};
use stock_tracker_shared::metrics::{MaintenanceMetrics, OutcomeLabels, StatusLabels, SyncMetrics};
use stock_tracker_shared::service::{Connections, TaskGuard};
use stock_tracker_shared::sync::{Outcome, Syncer, runs};
use stock_tracker_shared::tenancy::{self, Scope};
use stock_tracker_shared::vault::Vault;
use stock_tracker_stripe::stripe::StripeApi;
use stock_tracker_wb::{WbClient, WbMetrics};
use tracing::Instrument;

/// Every log line of a sync carries its job, run and tenant.
async fn handle(
    job: SyncJob,
    syncer: Data<Syncer>,
    backoff: Data<Backoff>,
    metrics: Data<SyncMetrics>,
    task: TaskId,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "sync_job",
        job_id = %task,
        run_id = %job.run_id,
        tenant_id = %job.tenant_id
    );
    handle_in_span(job, syncer, backoff, metrics, task)
        .instrument(span)
        .await
}

async fn handle_in_span(
    job: SyncJob,
    syncer: Data<Syncer>,
    backoff: Data<Backoff>,
    metrics: Data<SyncMetrics>,
    task: TaskId,
) -> Result<(), BoxDynError> {
    let started = Instant::now();
    let result = syncer.run(job).await;
    metrics.duration.observe(started.elapsed().as_secs_f64());
    let requests = match &result {
        Ok(Outcome::Succeeded { wb_requests, .. } | Outcome::Failed { wb_requests, .. }) => {
            Some(*wb_requests)
        }
        _ => None,
    };
    if let Some(n) = requests.filter(|n| *n > 0) {
        metrics.wb_requests.observe(n as f64);
    }
    let (outcome, code) = match &result {
        Ok(Outcome::Succeeded { stock_rows, .. }) => {
            metrics.rows.inc_by(*stock_rows as u64);
            ("succeeded", String::new())
        }
        Ok(Outcome::Failed { code, .. }) => ("failed", code.clone()),
        Ok(Outcome::DeadLettered) => ("dead_lettered", "dead_lettered".to_string()),
        Ok(Outcome::AlreadyDone) => ("already_done", String::new()),
        Err(_) => ("error", "attempt_failed".to_string()),
    };
    metrics
        .runs
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_string(),
            error_code: code,
        })
        .inc();
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            // The detail stays here: the run shows the seller only `attempt_failed`.
            tracing::error!(
                tenant_id = %job.tenant_id, run_id = %job.run_id, error = %format_args!("{e:#}"),
                "sync attempt failed; it will be retried"
            );
            backoff
                .schedule_retry(&syncer, job, &task.to_string())
                .await;
            Err(e.into())
        }
    }
}

/// Samples the queue for the gauges every 15 s.
async fn sample_queue(db: sqlx::PgPool, metrics: SyncMetrics, stuck_after: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tick.tick().await;
        if let Ok(rows) = queue::status_counts(&db, SYNC_QUEUE).await {
            use queue::JobStatus;
            for status in [
                JobStatus::Pending,
                JobStatus::Queued,
                JobStatus::Running,
                JobStatus::Failed,
                JobStatus::Done,
                JobStatus::Killed,
            ] {
                let n = rows
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                metrics
                    .queue
                    .get_or_create(&StatusLabels {
                        status: status.to_string(),
                    })
                    .set(n);
            }
        }
        if let Ok(n) = queue::stuck(&db, SYNC_QUEUE, stuck_after).await {
            metrics.stuck.set(n);
        }
    }
}

/// Spacing of retries after an attempt broke off (PostgreSQL unreachable, ...).
#[derive(Clone)]
struct Backoff {
    base: Duration,
}

impl Backoff {
    /// Notes the broken attempt on the run and moves the queue entry's `run_at` into the
    /// future, so the retry waits (see [`queue::backoff`]).
    async fn schedule_retry(&self, syncer: &Syncer, job: SyncJob, task_id: &str) {
        let result: anyhow::Result<()> = async {
            let mut tx = tenancy::begin(&syncer.db, Scope::tenant(job.tenant_id)).await?;
            let attempts = runs::note_attempt_error(&mut tx, job.run_id)
                .await?
                .unwrap_or(1);
            queue::retry_after(&mut *tx, task_id, queue::backoff(self.base, attempts)).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not space the retry out; it runs at the next poll");
        }
    }
}

/// The apalis worker names of one consuming round: one per queue.
#[derive(Clone)]
struct Names {
    sync: String,
    maintenance: String,
}

impl Names {
    fn fresh() -> Self {
        let (sync, maintenance) = (worker_name("sync"), worker_name("maintenance"));
        Self { sync, maintenance }
    }

    fn all(&self) -> [String; 2] {
        [self.sync.clone(), self.maintenance.clone()]
    }
}

/// A name no other process (or an earlier run of this one) has used: apalis keeps jobs
/// of a worker name that re-registers stuck in Running.
fn worker_name(queue: &str) -> String {
    format!(
        "{queue}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Consumes sync and maintenance jobs until `shutdown` resolves.
///
/// apalis gives up on its PostgreSQL backend at the first failed query (a heartbeat, a
/// poll, a result write): the worker stops with an error and drops the jobs it was running.
/// So that a PostgreSQL restart or outage does not stop the process, each such stop is
/// followed by waiting until PostgreSQL answers, returning the jobs the stopped worker held
/// to the queue, and consuming again under a fresh worker name (apalis keeps jobs of a name
/// that re-registers stuck in Running).
pub async fn run(
    config: &WorkerConfig,
    c: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let prefix = &config.common.redis_key_prefix;
    let mut registry = Registry::with_prefix("stock_tracker");
    let metrics = SyncMetrics::register(&mut registry);
    let syncer = Syncer {
        db: c.db.clone(),
        vault: Vault::new(config.credentials_keys.clone()),
        wb: WbClient::new(config.wb.clone(), c.redis.clone(), prefix)?
            .with_metrics(WbMetrics::register(&mut registry)),
        cache: TenantCache::new(c.redis.clone(), prefix, config.cache_ttl),
        worker: String::new(),
        max_attempts: config.max_attempts,
        policy: config.sync_policy,
    };
    let maintenance = Maintenance {
        db: c.db.clone(),
        stripe: config.stripe.clone().map(StripeApi::new).transpose()?,
        max_attempts: config.max_attempts,
        retry_base: config.retry_base,
        metrics: MaintenanceMetrics::register(&mut registry),
    };
    let registry = Arc::new(registry);
    // Helper tasks live exactly as long as this function: dropping the guards (on return,
    // or on an early error) aborts them.
    let _metrics_server =
        stock_tracker_shared::metrics::spawn_server(config.metrics_bind, registry);
    let _sampler = TaskGuard::spawn(sample_queue(
        c.db.clone(),
        metrics.clone(),
        config.stuck_after,
    ));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let _forward_shutdown = TaskGuard::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut delay = Duration::from_millis(250);
    loop {
        let names = Names::fresh();
        let name = names.sync.clone();
        let syncer = Syncer {
            worker: name.clone(),
            ..syncer.clone()
        };
        let started = tokio::time::Instant::now();
        let result = consume(
            config,
            &c,
            &names,
            syncer,
            maintenance.clone(),
            metrics.clone(),
            stop.clone(),
        )
        .await;
        if *stop.borrow() {
            let released = queue::release_held(&c.db, &names.all()).await?;
            if released > 0 {
                tracing::info!(released, "unfinished jobs returned to the queue");
            }
            return result;
        }
        match &result {
            Err(e) => {
                tracing::error!(worker = %name, error = %e, "worker lost the queue; reconnecting")
            }
            Ok(()) => tracing::error!(worker = %name, "worker stopped by itself; restarting"),
        }
        if started.elapsed() > Duration::from_secs(60) {
            delay = Duration::from_millis(250);
        }
        // The stopped worker's handlers were dropped with it: what it still holds goes
        // back to the queue as soon as PostgreSQL answers, rather than after the heartbeat
        // timeout.
        loop {
            let mut stop = stop.clone();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
            delay = (delay * 2).min(Duration::from_secs(5));
            match queue::release_held(&c.db, &names.all()).await {
                Ok(released) => {
                    if released > 0 {
                        tracing::info!(worker = %name, released, "unfinished jobs returned to the queue");
                    }
                    break;
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in_ms = delay.as_millis(),
                    "waiting for PostgreSQL"
                ),
            }
        }
    }
}

/// One apalis worker per queue under `names`, until the stop signal (then `Ok`, once their
/// jobs have finished or the grace period is over) or until apalis gives up on the backend
/// for either (`Err`).
async fn consume(
    config: &WorkerConfig,
    c: &Connections,
    names: &Names,
    syncer: Syncer,
    maintenance: Maintenance,
    metrics: SyncMetrics,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let name = names.sync.as_str();
    // New jobs wake the worker through LISTEN/NOTIFY; the interval catches what a
    // notification can miss (a listener reconnecting after a PostgreSQL restart, jobs
    // scheduled for later).
    let wake = Strategy::new()
        .stream(Pubsub::new(c.db.clone(), SYNC_QUEUE.to_string()))
        .interval(config.poll_interval);
    let queue = Config::default()
        .queue(SYNC_QUEUE)
        .heartbeat_interval(config.heartbeat)
        .missed_heartbeats(3);
    let storage = PostgresStorage::<SyncJob>::new(&c.db)
        .with_config(queue)
        .poll_with_strategy(wake);
    let worker = WorkerBuilder::new(name)
        .backend(storage)
        .data(syncer)
        .data(metrics)
        .data(Backoff {
            base: config.retry_base,
        })
        .concurrency(config.concurrency)
        .build(handle);
    tracing::info!(worker = %name, concurrency = config.concurrency, "worker ready");
    // SIGTERM stops claiming jobs; running ones get `shutdown_grace` to finish. Whatever
    // this worker still holds afterwards goes back to the queue at once, rather than
    // waiting for the heartbeat timeout.
    let maintenance_worker = {
        let wake = Strategy::new()
            .stream(Pubsub::new(c.db.clone(), MAINTENANCE_QUEUE.to_string()))
            .interval(config.poll_interval);
        let queue = Config::default()
            .queue(MAINTENANCE_QUEUE)
            .heartbeat_interval(config.heartbeat)
            .missed_heartbeats(3);
        let storage = PostgresStorage::<MaintenanceJob>::new(&c.db)
            .with_config(queue)
            .poll_with_strategy(wake);
        WorkerBuilder::new(names.maintenance.as_str())
            .backend(storage)
            .data(maintenance)
            .concurrency(1)
            .build(maintenance::handle)
    };
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let mut stop_sync = stop.clone();
    let run = worker.run_until(async move {
        let _ = stop_sync.wait_for(|s| *s).await;
        let _ = stopping_tx.send(());
        Ok::<(), std::io::Error>(())
    });
    let mut stop_maintenance = stop.clone();
    let run_maintenance = maintenance_worker.run_until(async move {
        let _ = stop_maintenance.wait_for(|s| *s).await;
        Ok::<(), std::io::Error>(())
    });
    let grace = config.shutdown_grace;
    let db = c.db.clone();
    let held = names.all();
    let drained = async move {
        if stopping_rx.await.is_err() {
            return std::future::pending::<()>().await;
        }
        // apalis stops claiming on the signal; watch this worker's jobs ourselves, since
        // an idle apalis worker does not always return promptly.
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match queue::held_by(&db, &held).await {
                Ok(0) => return,
                Ok(_) | Err(_) if tokio::time::Instant::now() >= deadline => {
                    tracing::warn!(
                        grace_secs = grace.as_secs(),
                        "jobs still running after the grace period; putting them back"
                    );
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    };
    // Either apalis worker ending ends this round (the caller restarts both under fresh
    // names), except on shutdown, when the other one is let finish too.
    let stopping = stop.clone();
    let workers = async move {
        tokio::pin!(run, run_maintenance);
        tokio::select! {
            result = &mut run => {
                result?;
                if *stopping.borrow() {
                    run_maintenance.await?;
                }
            }
            result = &mut run_maintenance => {
                result?;
                if *stopping.borrow() {
                    run.await?;
                }
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        result = workers => result?,
        () = drained => {}
    }
    Ok(())
}
