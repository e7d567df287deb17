//! The operator's view of the queue (`stock-tracker-api jobs …`). Runs as the owner role:
//! it looks across tenants, and shows ids, states and error codes, never payload secrets
//! (payloads hold none).

use super::SYNC_QUEUE;
use super::queue::{self, JobStatus};
use crate::ids::{SyncRunId, TenantId};
use crate::sync::runs::{RunStatus, Trigger};
use crate::tenancy::{self, Scope};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// Sync queue entries by apalis status (Pending, Queued, Running, Done, Failed, Killed).
pub async fn depth(conn: &mut PgConnection) -> sqlx::Result<Vec<(JobStatus, i64)>> {
    queue::status_counts(conn, SYNC_QUEUE).await
}

#[derive(Debug)]
pub struct RunLine {
    pub id: SyncRunId,
    pub tenant_id: TenantId,
    pub status: RunStatus,
    pub attempts: i32,
    pub worker: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Which runs `jobs running|failed|dead` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFilter {
    Running,
    Failed,
    /// Failed and given up on (dead-lettered).
    Dead,
}

/// Runs matching `which`, newest first.
pub async fn runs(
    conn: &mut PgConnection,
    which: RunFilter,
    limit: i64,
) -> sqlx::Result<Vec<RunLine>> {
    let (status, dead) = match which {
        RunFilter::Dead => (None, true),
        RunFilter::Failed => (Some(RunStatus::Failed), false),
        RunFilter::Running => (Some(RunStatus::Running), false),
    };
    sqlx::query_as!(
        RunLine,
        r#"select id as "id: SyncRunId", tenant_id as "tenant_id: TenantId",
                  status as "status: RunStatus", attempts, worker, started_at,
                  finished_at, error_code, error_message
             from sync_runs
            where ($1::text is null or status = $1)
              and (not $2 or error_code = 'dead_lettered')
            order by coalesce(finished_at, started_at, queued_at) desc limit $3"#,
        status as Option<RunStatus>,
        dead,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Queues a fresh run for the tenant of a dead-lettered run; returns the new run's id.
pub async fn retry_dead(db: &PgPool, run_id: SyncRunId) -> anyhow::Result<SyncRunId> {
    let mut tx = tenancy::begin(db, Scope::default()).await?;
    let tenant = sqlx::query_scalar!(
        r#"select tenant_id as "tenant_id: TenantId" from sync_runs
            where id = $1 and error_code = 'dead_lettered'"#,
        run_id as SyncRunId
    )
    .fetch_optional(&mut *tx)
    .await?;
    let tenant =
        tenant.ok_or_else(|| anyhow::anyhow!("run {run_id} is not a dead-lettered run"))?;
    tenancy::rescope(&mut tx, Scope::tenant(tenant)).await?;
    let run = queue::queue_sync(&mut tx, tenant, Trigger::Manual).await?;
    tx.commit().await?;
    Ok(run.id)
}
