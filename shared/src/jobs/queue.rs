//! The job queue, in one place: the only code that creates a sync run with its job, pushes
//! any job, or reads and writes apalis's own tables (`apalis.jobs`). Everything else (the
//! api, the scheduler, the worker, the operator's commands, tests) calls these functions.
//!
//! A job is always created in the caller's transaction together with the row that records
//! it (a `sync_runs` row, a `maintenance_runs` row), so one never exists without the other.

use super::{MAINTENANCE_QUEUE, MaintenanceJob, SYNC_QUEUE, SyncJob};
use crate::billing::Plan;
use crate::ids::{SyncRunId, TenantId};
use crate::sync::runs::{self, SyncRun, Trigger};
use crate::tenancy::Tx;
/// A queue entry's state as apalis records it (Pending, Queued, Running, Done, Failed,
/// Killed).
pub use apalis::prelude::Status as JobStatus;
use apalis::prelude::TaskBuilder;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::time::Duration;

/// Runs queued per statement by [`queue_due_syncs`]; a tick over many due tenants takes
/// several.
const BATCH: i32 = 10_000;
/// Serialises scheduler ticks of different replicas (pg_try_advisory_xact_lock key).
const TICK_LOCK: i64 = 0x5354_5343_4845_4431;

/// Creates a sync run for `tenant` and its job in the caller's transaction (scoped to that
/// tenant). Fails with a unique violation on [`runs::ONE_ACTIVE`] when the tenant already
/// has a run queued or running.
pub async fn queue_sync(tx: &mut Tx, tenant: TenantId, trigger: Trigger) -> sqlx::Result<SyncRun> {
    let run = runs::queue(tx, tenant, trigger).await?;
    push_syncs(tx, &[(run.id, tenant)]).await?;
    Ok(run)
}

/// What one call of [`queue_due_syncs`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DueOutcome {
    pub queued: usize,
    /// Another replica held the tick lock; it does this tick's work.
    pub skipped: bool,
    /// Syncing is paused (WB answered 402, see `sync::pause`): nothing was queued.
    pub paused: bool,
}

/// The scheduler's batch: a run and its job for every tenant that is due at `now`, exactly
/// once per tenant and due slot however many replicas tick at the same moment. Which tenants
/// are due is decided by the `queue_due_syncs` SQL function (it sees across tenants); each
/// batch commits its runs and their jobs together. `now` is the tick's scheduled time,
/// identical on every replica, so replicas agree on every tenant's due slot.
pub async fn queue_due_syncs(db: &PgPool, now: DateTime<Utc>) -> anyhow::Result<DueOutcome> {
    let mut outcome = DueOutcome::default();
    loop {
        let mut tx = db.begin().await?;
        let locked = sqlx::query_scalar!(
            r#"select pg_try_advisory_xact_lock($1) as "locked!""#,
            TICK_LOCK
        )
        .fetch_one(&mut *tx)
        .await?;
        if !locked {
            outcome.skipped = outcome.queued == 0;
            return Ok(outcome);
        }
        if crate::sync::pause::current(&mut *tx).await?.is_some() {
            outcome.paused = true;
            return Ok(outcome);
        }
        let due: Vec<(SyncRunId, TenantId)> = sqlx::query!(
            r#"select run_id as "run_id!: SyncRunId", tenant_id as "tenant_id!: TenantId"
                 from queue_due_syncs($1, $2, $3)"#,
            now,
            BATCH,
            Plan::intervals_json()
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.run_id, r.tenant_id))
        .collect();
        push_syncs(&mut tx, &due).await?;
        tx.commit().await?;
        outcome.queued += due.len();
        if due.len() < BATCH as usize {
            return Ok(outcome);
        }
    }
}

/// The one place sync jobs are pushed: keyed by their run, so the same run is never
/// queued twice (the queue's unique index refuses it).
async fn push_syncs(conn: &mut PgConnection, jobs: &[(SyncRunId, TenantId)]) -> sqlx::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let tasks = jobs
        .iter()
        .map(|&(run_id, tenant_id)| {
            let job = SyncJob { run_id, tenant_id };
            Ok(TaskBuilder::new(encode(&job)?)
                .idempotency_key(run_id.to_string())
                .build())
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    push(conn, SYNC_QUEUE, tasks).await
}

/// Queues each maintenance job whose key has not been queued before, with the
/// `maintenance_runs` row that records it; returns how many were new. Any replica may call
/// this for the same period: the key makes the second call a no-op.
pub async fn queue_maintenance(
    conn: &mut PgConnection,
    jobs: &[MaintenanceJob],
) -> sqlx::Result<usize> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let mut queued = 0;
    for job in jobs {
        let key = job.key();
        let new = sqlx::query_scalar!(
            "insert into maintenance_runs (key, kind) values ($1, $2)
             on conflict (key) do nothing returning key",
            key,
            job.kind()
        )
        .fetch_optional(&mut *tx)
        .await?;
        if new.is_none() {
            continue;
        }
        let task = TaskBuilder::new(encode(job)?).idempotency_key(key).build();
        push(&mut tx, MAINTENANCE_QUEUE, vec![task]).await?;
        queued += 1;
    }
    tx.commit().await?;
    Ok(queued)
}

fn encode<T: serde::Serialize>(job: &T) -> sqlx::Result<Vec<u8>> {
    serde_json::to_vec(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

async fn push(
    conn: &mut PgConnection,
    queue: &str,
    tasks: Vec<apalis_postgres::PgTask>,
) -> sqlx::Result<()> {
    apalis_postgres::queries::push_tasks(conn, queue, tasks)
        .await
        .map_err(|e| match e {
            apalis_postgres::Error::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

/// Entries of one queue by apalis status, ordered by status.
pub async fn status_counts<'e>(
    db: impl PgExecutor<'e>,
    queue: &str,
) -> sqlx::Result<Vec<(JobStatus, i64)>> {
    let rows = sqlx::query!(
        r#"select status, count(*) as "n!" from apalis.jobs where job_type = $1
            group by status order by status"#,
        queue
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| Ok((parse_status(&r.status)?, r.n)))
        .collect()
}

/// Entries of one queue in one apalis status.
pub async fn count_in_status<'e>(
    db: impl PgExecutor<'e>,
    queue: &str,
    status: JobStatus,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from apalis.jobs where job_type = $1 and status = $2"#,
        queue,
        status.to_string()
    )
    .fetch_one(db)
    .await
}

/// The apalis status of the job with this idempotency key (a sync run's id, a maintenance
/// job's key), if there is one.
pub async fn status_of<'e>(
    db: impl PgExecutor<'e>,
    queue: &str,
    key: &str,
) -> sqlx::Result<Option<JobStatus>> {
    Ok(entry(db, queue, key).await?.map(|e| e.status))
}

/// One queue entry as apalis records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub status: JobStatus,
    /// apalis's own attempt count (not reliable after a crash: handlers count their own).
    pub attempts: i32,
    /// The worker that claimed it.
    pub lock_by: Option<String>,
    /// When it finished, as PostgreSQL prints it.
    pub done_at: Option<String>,
}

/// The entry with this idempotency key (a sync run's id, a maintenance job's key).
pub async fn entry<'e>(
    db: impl PgExecutor<'e>,
    queue: &str,
    key: &str,
) -> sqlx::Result<Option<Entry>> {
    let row = sqlx::query!(
        r#"select status, attempts, lock_by, done_at::text as "done_at?" from apalis.jobs
            where job_type = $1 and idempotency_key = $2"#,
        queue,
        key
    )
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Entry {
            status: parse_status(&r.status)?,
            attempts: r.attempts,
            lock_by: r.lock_by,
            done_at: r.done_at,
        })
    })
    .transpose()
}

fn parse_status(status: &str) -> sqlx::Result<JobStatus> {
    status.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Entries some worker has claimed and not finished (Queued or Running), on every queue.
pub async fn count_claimed<'e>(db: impl PgExecutor<'e>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from apalis.jobs where status in ('Queued', 'Running')"#
    )
    .fetch_one(db)
    .await
}

/// Every entry of one queue, whatever its status.
pub async fn count_all<'e>(db: impl PgExecutor<'e>, queue: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from apalis.jobs where job_type = $1"#,
        queue
    )
    .fetch_one(db)
    .await
}

/// The stored payloads of one queue's jobs (to check they hold ids only).
pub async fn payloads<'e>(db: impl PgExecutor<'e>, queue: &str) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar!("select job from apalis.jobs where job_type = $1", queue)
        .fetch_all(db)
        .await
}

/// The idempotency keys of one queue's jobs, oldest first: what a tick queued.
pub async fn keys<'e>(db: impl PgExecutor<'e>, queue: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"select idempotency_key as "key!" from apalis.jobs
            where job_type = $1 and idempotency_key is not null
            order by run_at, idempotency_key"#,
        queue
    )
    .fetch_all(db)
    .await
}

/// Jobs of one queue running longer than `older_than` (the stuck gauge).
pub async fn stuck<'e>(
    db: impl PgExecutor<'e>,
    queue: &str,
    older_than: Duration,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from apalis.jobs
            where job_type = $1 and status = 'Running'
              and lock_at < now() - make_interval(secs => $2)"#,
        queue,
        older_than.as_secs_f64()
    )
    .fetch_one(db)
    .await
}

/// Jobs these workers have claimed and not finished, on any queue.
pub async fn held_by<'e>(db: impl PgExecutor<'e>, workers: &[String]) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from apalis.jobs
            where lock_by = any($1) and status in ('Queued', 'Running')"#,
        workers
    )
    .fetch_one(db)
    .await
}

/// Returns these workers' claimed-but-unfinished jobs to the queue (handlers are
/// idempotent, so one cut off half-way simply runs again); returns how many.
pub async fn release_held<'e>(db: impl PgExecutor<'e>, workers: &[String]) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update apalis.jobs set status = 'Pending', lock_by = null, lock_at = null
          where lock_by = any($1) and status in ('Queued', 'Running')",
        workers
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Moves a job's next attempt `delay` into the future (retry back-off).
pub async fn retry_after<'e>(
    db: impl PgExecutor<'e>,
    task_id: &str,
    delay: Duration,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update apalis.jobs set run_at = now() + make_interval(secs => $2) where id = $1",
        task_id,
        delay.as_secs_f64()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Back-off before retry `attempt` (1-based): `base` x 2^(attempt-1), capped at ten
/// minutes, with full jitter, at least a second.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let shift = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
    let ceiling = base
        .saturating_mul(1u32 << shift)
        .min(Duration::from_secs(600));
    ceiling
        .mul_f64(rand::random::<f64>())
        .max(Duration::from_secs(1))
}
