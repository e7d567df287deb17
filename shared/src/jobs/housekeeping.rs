//! Periodic work the scheduler does besides queueing syncs.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records tenant events for WB tokens expiring within 14, 7 and 1 days (once each).
pub async fn warn_expiring_tokens(db: &PgPool, now: DateTime<Utc>) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"select record_token_expiry_warnings($1) as "recorded!""#,
        now
    )
    .fetch_one(db)
    .await
}

/// Deletes finished runs older than `run_days` and history older than `history_days`;
/// returns how many of each.
pub async fn purge(
    db: &PgPool,
    now: DateTime<Utc>,
    run_days: i32,
    history_days: i32,
) -> sqlx::Result<(i64, i64)> {
    let purged = sqlx::query!(
        r#"select runs as "runs!", history as "history!" from purge_old_data($1, $2, $3)"#,
        now,
        run_days,
        history_days
    )
    .fetch_one(db)
    .await?;
    Ok((purged.runs, purged.history))
}

/// Tenants whose syncs run on schedule: an active token and a subscription that allows it.
pub async fn count_active_tenants(db: &PgPool, now: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count_active_tenants($1) as "n!""#, now)
        .fetch_one(db)
        .await
}
