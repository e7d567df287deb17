//! The scheduler's tick: queue a sync for every tenant that is due, exactly once per
//! tenant and due slot however many scheduler replicas tick at the same moment.

use super::{SYNC_QUEUE, SyncJob, sync_task};
use crate::billing::Plan;
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Runs queued per statement; a tick over many due tenants takes several.
const BATCH: i32 = 10_000;
/// Serialises ticks of different replicas (pg_try_advisory_xact_lock key).
const TICK_LOCK: i64 = 0x5354_5343_4845_4431;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub queued: usize,
    /// Another replica held the tick lock; it does this tick's work.
    pub skipped: bool,
}

/// Queues the due tenants' runs and their jobs, each batch in one transaction so a run
/// never exists without its job. `now` is the tick's scheduled time, identical on every
/// replica, so replicas agree on every tenant's due slot.
pub async fn tick(db: &PgPool, now: DateTime<Utc>) -> anyhow::Result<TickOutcome> {
    let mut outcome = TickOutcome::default();
    loop {
        let mut tx = db.begin().await?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
            .bind(TICK_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            outcome.skipped = outcome.queued == 0;
            return Ok(outcome);
        }
        let due: Vec<(Uuid, TenantId)> =
            sqlx::query_as("select run_id, tenant_id from queue_due_syncs($1, $2, $3)")
                .bind(now)
                .bind(BATCH)
                .bind(Plan::intervals_json())
                .fetch_all(&mut *tx)
                .await?;
        if !due.is_empty() {
            let tasks = due
                .iter()
                .map(|&(run_id, tenant_id)| sync_task(SyncJob { run_id, tenant_id }))
                .collect::<anyhow::Result<Vec<_>>>()?;
            apalis_postgres::queries::push_tasks(&mut *tx, SYNC_QUEUE, tasks).await?;
        }
        tx.commit().await?;
        outcome.queued += due.len();
        if due.len() < BATCH as usize {
            return Ok(outcome);
        }
    }
}
