//! The sync job consumer: apalis on the PostgreSQL queue, one [`Syncer`] run per job.

use crate::config::WorkerConfig;
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage, Pubsub};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use stock_tracker_shared::cache::TenantCache;
use stock_tracker_shared::jobs::{SYNC_QUEUE, SyncJob};
use stock_tracker_shared::metrics::{OutcomeLabels, StatusLabels, SyncMetrics};
use stock_tracker_shared::service::Connections;
use stock_tracker_shared::sync::{Outcome, Syncer, runs};
use stock_tracker_shared::tenancy::{self, Scope};
use stock_tracker_shared::vault::Vault;
use stock_tracker_shared::wb::{WbClient, WbMetrics};

async fn handle(
    job: SyncJob,
    syncer: Data<Syncer>,
    backoff: Data<Backoff>,
    metrics: Data<SyncMetrics>,
    task: TaskId,
) -> Result<(), BoxDynError> {
    let started = Instant::now();
    let result = syncer.run(job).await;
    metrics.duration.observe(started.elapsed().as_secs_f64());
    let (outcome, code) = match &result {
        Ok(Outcome::Succeeded { stock_rows }) => {
            metrics.rows.inc_by(*stock_rows as u64);
            ("succeeded", String::new())
        }
        Ok(Outcome::Failed { code }) => ("failed", code.clone()),
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
            tracing::error!(run_id = %job.run_id, error = %e, "sync attempt failed; it will be retried");
            backoff
                .schedule_retry(&syncer, job, &task.to_string(), &e.to_string())
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
        let depth: sqlx::Result<Vec<(String, i64)>> = sqlx::query_as(
            "select status, count(*) from apalis.jobs where job_type = $1 group by status",
        )
        .bind(SYNC_QUEUE)
        .fetch_all(&db)
        .await;
        if let Ok(rows) = depth {
            for status in ["Pending", "Queued", "Running", "Failed", "Done", "Killed"] {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                metrics
                    .queue
                    .get_or_create(&StatusLabels {
                        status: status.to_string(),
                    })
                    .set(n);
            }
        }
        let stuck: sqlx::Result<i64> = sqlx::query_scalar(
            "select count(*) from apalis.jobs
              where job_type = $1 and status = 'Running' and lock_at < now() - $2",
        )
        .bind(SYNC_QUEUE)
        .bind(stuck_after)
        .fetch_one(&db)
        .await;
        if let Ok(n) = stuck {
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
    /// Notes the error on the run and moves the queue entry's `run_at` into the future, so
    /// the retry waits: base x 2^(attempt-1), capped at ten minutes, with full jitter.
    async fn schedule_retry(&self, syncer: &Syncer, job: SyncJob, task_id: &str, error: &str) {
        let result: anyhow::Result<()> = async {
            let mut tx = tenancy::begin(&syncer.db, Scope::tenant(job.tenant_id)).await?;
            let attempts = runs::note_attempt_error(&mut tx, job.run_id, error)
                .await?
                .unwrap_or(1);
            let shift = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
            let ceiling = self
                .base
                .saturating_mul(1u32 << shift)
                .min(Duration::from_secs(600));
            let delay = ceiling
                .mul_f64(rand::random::<f64>())
                .max(Duration::from_secs(1));
            sqlx::query("update apalis.jobs set run_at = now() + $2 where id = $1")
                .bind(task_id)
                .bind(delay)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not space the retry out; it runs at the next poll");
        }
    }
}

/// Jobs this worker has claimed and not finished.
async fn held_jobs(db: &sqlx::PgPool, worker: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from apalis.jobs where lock_by = $1 and status in ('Queued', 'Running')",
    )
    .bind(worker)
    .fetch_one(db)
    .await
}

/// Returns this worker's claimed-but-unfinished jobs to the queue. Syncs are idempotent,
/// so one cut off half-way simply runs again.
async fn release_held_jobs(db: &sqlx::PgPool, worker: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update apalis.jobs set status = 'Pending', lock_by = null, lock_at = null
          where lock_by = $1 and status in ('Queued', 'Running')",
    )
    .bind(worker)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A name no other process (or an earlier run of this one) has used: apalis keeps jobs
/// of a worker name that re-registers stuck in Running.
fn worker_name() -> String {
    format!(
        "sync-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Consumes sync jobs until `shutdown` resolves.
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
        vault: Vault::new(config.common.credentials_keys.clone()),
        wb: WbClient::new(config.wb.clone(), c.redis.clone(), prefix)?
            .with_metrics(WbMetrics::register(&mut registry)),
        cache: TenantCache::new(c.redis.clone(), prefix, config.cache_ttl),
        worker: String::new(),
        max_attempts: config.max_attempts,
    };
    let registry = Arc::new(registry);
    let bind = config.metrics_bind;
    tokio::spawn(async move {
        if let Err(e) = stock_tracker_shared::metrics::serve(bind, registry).await {
            tracing::error!(error = %e, %bind, "metrics endpoint failed");
        }
    });
    tokio::spawn(sample_queue(
        c.db.clone(),
        metrics.clone(),
        config.stuck_after,
    ));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut delay = Duration::from_millis(250);
    loop {
        let name = worker_name();
        let syncer = Syncer {
            worker: name.clone(),
            ..syncer.clone()
        };
        let started = tokio::time::Instant::now();
        let result = consume(config, &c, &name, syncer, metrics.clone(), stop.clone()).await;
        if *stop.borrow() {
            let released = release_held_jobs(&c.db, &name).await?;
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
            match release_held_jobs(&c.db, &name).await {
                Ok(released) => {
                    if released > 0 {
                        tracing::info!(worker = %name, released, "unfinished jobs returned to the queue");
                    }
                    break;
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "waiting for PostgreSQL"
                ),
            }
        }
    }
}

/// One apalis worker under `name`, until the stop signal (then `Ok`, once its jobs have
/// finished or the grace period is over) or until apalis gives up on the backend (`Err`).
async fn consume(
    config: &WorkerConfig,
    c: &Connections,
    name: &str,
    syncer: Syncer,
    metrics: SyncMetrics,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
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
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let run = worker.run_until(async move {
        let _ = stop.wait_for(|s| *s).await;
        let _ = stopping_tx.send(());
        Ok::<(), std::io::Error>(())
    });
    let grace = config.shutdown_grace;
    let db = c.db.clone();
    let worker_name = name.to_string();
    let drained = async move {
        if stopping_rx.await.is_err() {
            return std::future::pending::<()>().await;
        }
        // apalis stops claiming on the signal; watch this worker's jobs ourselves, since
        // an idle apalis worker does not always return promptly.
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match held_jobs(&db, &worker_name).await {
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
    tokio::select! {
        result = run => result?,
        () = drained => {}
    }
    Ok(())
}
