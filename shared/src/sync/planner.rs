//! Statistics for PostgreSQL's planner after a sync that wrote many rows (issue 13).
//!
//! Autovacuum is off on the project's machines and reacts late on others; a first sync of
//! 25,000 stock rows read before any `ANALYZE` was planned as nested loops over all of them
//! (86 s for one page). So once a large sync has committed, the worker analyses the synced
//! tables itself, through `analyze_synced_tables()`: the application roles do not own the
//! tables, and that owner-side function (granted to the worker's role only) does nothing
//! else. It skips when another session is already analysing.

use super::store::Applied;
use sqlx::PgPool;

/// Rows a sync must have written (inserted, changed or removed, history included) before the
/// tables are analysed after it.
///
/// Below this a tenant's rows fill a few pages per table: any plan over them, even a nested
/// loop that believes the tables are empty, costs well under a millisecond, so fresh
/// statistics would change nothing a seller notices. Above it a wrong plan grows with the
/// square of the rows (the 86 s page above), while an `ANALYZE` samples at most 30,000 rows
/// per table (`default_statistics_target` 100), tens of milliseconds whatever the tables'
/// size: next to a sync of that many rows (seconds of WB requests and writes) it is cheap.
/// A tenant's first sync writes every row it has, so a first sync at or above the threshold
/// is always analysed and one below it is a small tenant; no separate first-sync rule is
/// needed. An unchanged re-sync writes nothing and never analyses.
pub const ANALYZE_AFTER_ROWS: u64 = 1_000;

/// Rows `applied` wrote in all the synced tables.
pub fn rows_written(applied: &Applied) -> u64 {
    applied.catalog_changes + applied.stock_changes + applied.history_rows
}

/// Whether the tables should be analysed after a sync that applied `applied`.
pub fn worth_analysing(applied: &Applied) -> bool {
    rows_written(applied) >= ANALYZE_AFTER_ROWS
}

/// Analyses the synced tables; `false` when another session was already doing it (this call
/// then skipped rather than wait). Call it with no transaction or other connection held:
/// it takes its own connection from `db` for as long as the `ANALYZE`s run.
pub async fn analyze_synced_tables(db: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select analyze_synced_tables() as "analysed!""#)
        .fetch_one(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_large_change_is_worth_analysing() {
        let small = Applied {
            catalog_changes: 48,
            stock_changes: 144,
            history_rows: 144,
            ..Applied::default()
        };
        assert!(!worth_analysing(&small));
        assert!(
            !worth_analysing(&Applied::default()),
            "an unchanged re-sync"
        );
        let large = Applied {
            catalog_changes: 400,
            stock_changes: 300,
            history_rows: 300,
            ..Applied::default()
        };
        assert!(worth_analysing(&large));
    }
}
