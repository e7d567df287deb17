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

/// Months of stock history partitions kept ready beyond the current one. The retention job
/// runs every hour, so two months leave ample time for it to be down before an insert would
/// fall into the default partition (which works too, just less tidily).
pub const HISTORY_MONTHS_AHEAD: i32 = 2;

/// Creates the monthly `stock_history` partitions for the month of `now` and
/// [`HISTORY_MONTHS_AHEAD`] after it that do not exist yet; returns how many it created.
pub async fn prepare_history_partitions(db: &PgPool, now: DateTime<Utc>) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"select create_stock_history_partitions($1, $2) as "created!""#,
        now,
        HISTORY_MONTHS_AHEAD
    )
    .fetch_one(db)
    .await
}

/// Deletes finished runs older than `run_days`, and drops the stock history partitions
/// whose whole month is older than `history_days` (the month straddling the cutoff is kept
/// until it ages out; stray rows in the default partition go row by row); returns how many
/// runs and history rows went.
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
