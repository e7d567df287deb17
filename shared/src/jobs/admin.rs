//! The operator's view of the queue (`stock-tracker-api jobs …`). Runs as the owner role:
//! it looks across tenants, and shows ids, states and error codes, never payload secrets
//! (payloads hold none).

use super::{SYNC_QUEUE, SyncJob, sync_task};
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Queue entries by apalis status (Pending, Queued, Running, Done, Failed, Killed).
pub async fn depth(conn: &mut PgConnection) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "select status, count(*) from apalis.jobs where job_type = $1 group by status order by status",
    )
    .bind(SYNC_QUEUE)
    .fetch_all(conn)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct RunLine {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub worker: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Runs in one state (`running`, `failed`) or dead-lettered (`dead`), newest first.
pub async fn runs(conn: &mut PgConnection, which: &str, limit: i64) -> sqlx::Result<Vec<RunLine>> {
    let filter = match which {
        "dead" => "error_code = 'dead_lettered'",
        "failed" => "status = 'failed'",
        _ => "status = 'running'",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select id, tenant_id, status, attempts, worker, started_at, finished_at, error_code,
                error_message
           from sync_runs where {filter}
          order by coalesce(finished_at, started_at, queued_at) desc limit $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Queues a fresh run for the tenant of a dead-lettered run; returns the new run's id.
pub async fn retry_dead(conn: &mut PgConnection, run_id: Uuid) -> anyhow::Result<Uuid> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let tenant: Option<TenantId> = sqlx::query_scalar(
        "select tenant_id from sync_runs where id = $1 and error_code = 'dead_lettered'",
    )
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?;
    let tenant =
        tenant.ok_or_else(|| anyhow::anyhow!("run {run_id} is not a dead-lettered run"))?;
    let new_run: Uuid = sqlx::query_scalar(
        "insert into sync_runs (id, tenant_id, trigger, status) values ($1, $2, 'manual', 'queued')
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await?;
    let task = sync_task(SyncJob {
        run_id: new_run,
        tenant_id: tenant,
    })?;
    apalis_postgres::queries::push_tasks(&mut *tx, SYNC_QUEUE, vec![task]).await?;
    tx.commit().await?;
    Ok(new_run)
}
