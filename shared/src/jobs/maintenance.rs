//! The record of each maintenance job (`maintenance_runs`): attempts and outcome, so that
//! a redelivered job that already succeeded does nothing and one that keeps failing is
//! dead-lettered by its handler.

use sqlx::PgPool;

/// Counts an attempt and marks the job running; `None` when it already finished (a
/// redelivery), which the handler treats as done.
pub async fn start(db: &PgPool, key: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "update maintenance_runs set status = 'running', attempts = attempts + 1,
                started_at = clock_timestamp()
          where key = $1 and status in ('queued', 'running')
          returning attempts",
        key
    )
    .fetch_optional(db)
    .await
}

pub async fn succeed(db: &PgPool, key: &str, outcome: serde_json::Value) -> sqlx::Result<()> {
    sqlx::query!(
        "update maintenance_runs set status = 'succeeded', finished_at = clock_timestamp(),
                outcome = $2, error_code = null, error_message = null
          where key = $1",
        key,
        outcome
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Finishes the job as failed (`dead_lettered` past its attempts, or a permanent error).
pub async fn fail(db: &PgPool, key: &str, code: &str, message: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update maintenance_runs set status = 'failed', finished_at = clock_timestamp(),
                error_code = $2, error_message = $3
          where key = $1",
        key,
        code,
        message
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records why an attempt broke off (the job will be retried).
pub async fn note_attempt_error(db: &PgPool, key: &str, message: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update maintenance_runs set error_code = 'attempt_failed', error_message = $2
          where key = $1 and status = 'running'",
        key,
        message
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Where a maintenance job is (the `status` column of `maintenance_runs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Queued,
    Running,
    Succeeded,
    /// Given up on: `error_code` says why (`dead_lettered`).
    Failed,
}

/// One maintenance run as recorded: for operators and tests.
#[derive(Clone, Debug)]
pub struct MaintenanceRun {
    pub key: String,
    pub kind: String,
    pub status: MaintenanceStatus,
    pub attempts: i32,
    pub outcome: Option<serde_json::Value>,
    pub error_code: Option<String>,
}

pub async fn get(db: &PgPool, key: &str) -> sqlx::Result<Option<MaintenanceRun>> {
    sqlx::query_as!(
        MaintenanceRun,
        r#"select key, kind, status as "status: MaintenanceStatus", attempts, outcome, error_code
             from maintenance_runs where key = $1"#,
        key
    )
    .fetch_optional(db)
    .await
}
