//! The global pause on syncing when WB answers 402 (our service balance is empty): set by
//! the worker on the first 402, read by the scheduler, the api and every run, cleared only
//! by an operator (`stock-tracker-api wb-billing resume`). See the migration
//! `wb_service_pause` for why it is global and why nothing clears it automatically.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Why and since when syncing is paused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    /// The failure code runs get meanwhile (`wb_service_unpaid`).
    pub reason: String,
    pub paused_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// The pause in force, if any.
pub async fn current(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Pause>> {
    sqlx::query_as!(
        Pause,
        "select reason, paused_at, last_seen_at from wb_service_pause"
    )
    .fetch_optional(db)
    .await
}

/// Records a 402 from WB; true when this started the pause (it was not paused before).
pub async fn record_unpaid(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"insert into wb_service_pause (reason) values ('wb_service_unpaid')
           on conflict (singleton) do update set last_seen_at = now()
           returning (xmax = 0) as "started!""#
    )
    .fetch_one(db)
    .await
}

/// Lifts the pause; returns the one that was in force.
pub async fn resume(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Pause>> {
    sqlx::query_as!(
        Pause,
        "delete from wb_service_pause returning reason, paused_at, last_seen_at"
    )
    .fetch_optional(db)
    .await
}
