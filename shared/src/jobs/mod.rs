//! Background jobs on the PostgreSQL queue (apalis). Payloads carry ids only, never
//! secrets: they are stored in the database and shown by operator tools.

pub mod admin;
pub mod housekeeping;
pub mod schedule;

use crate::ids::TenantId;
use crate::tenancy::Tx;
use apalis::prelude::TaskBuilder;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The queue sync jobs are pushed to and workers consume.
pub const SYNC_QUEUE: &str = "stock-tracker-sync";

/// Sync one tenant's WB data; `run_id` names the `sync_runs` row that records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub run_id: Uuid,
    pub tenant_id: TenantId,
}

/// Enqueues in the caller's transaction, so the job exists if and only if the business
/// row that asked for it does. The run id doubles as the idempotency key: enqueueing the
/// same run twice is refused by the queue's unique index.
pub async fn enqueue_sync(tx: &mut Tx, job: SyncJob) -> anyhow::Result<()> {
    apalis_postgres::queries::push_tasks(&mut **tx, SYNC_QUEUE, vec![sync_task(job)?]).await?;
    Ok(())
}

/// The queue entry of a sync job, keyed by its run.
pub fn sync_task(job: SyncJob) -> anyhow::Result<apalis_postgres::PgTask> {
    Ok(TaskBuilder::new(serde_json::to_vec(&job)?)
        .idempotency_key(job.run_id.to_string())
        .build())
}
