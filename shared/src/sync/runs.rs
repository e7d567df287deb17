//! `sync_runs`: the record of each sync, from queued to succeeded or failed.

use super::Failure;
use super::store::Applied;
use crate::ids::{SyncRunId, TenantId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use std::collections::BTreeMap;

pub const ONE_ACTIVE: &str = "sync_runs_one_active";

/// Where a run stands. `queued` and `running` are active (at most one per tenant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }

    /// The name stored and shown (`queued`, `running`, `succeeded`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asked for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Trigger {
    /// A person or an API key (POST /api/v1/sync), or an operator's retry.
    Manual,
    /// The scheduler, when the tenant's interval had passed.
    Schedule,
}

/// One sync: what it did or why it failed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SyncRun {
    #[schema(value_type = uuid::Uuid)]
    pub id: SyncRunId,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub attempts: i32,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub products: Option<i32>,
    pub sizes: Option<i32>,
    pub warehouses: Option<i32>,
    pub stock_rows: Option<i32>,
    /// Stock rows inserted, changed or removed by this run.
    pub stock_changes: Option<i32>,
    pub history_rows: Option<i32>,
    pub wb_requests: i32,
    /// The same requests by WB method (`cards_list`, `stocks_report_wb_warehouses`,
    /// `stocks_report_seller_warehouses`, ...): what WB bills.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub wb_requests_by_method: Json<BTreeMap<String, i64>>,
    /// WB answers that were 429 Too Many Requests.
    pub wb_rate_limited: i32,
    /// Where the stock on WB warehouses came from: `stocks_report`, or `warehouse_remains`
    /// for base tokens. With `stock_reused_from` set, the source of the stock kept.
    pub stock_source: Option<String>,
    /// `full` (every card: the first sync, then once a day, which catches deleted cards)
    /// or `incremental` (only cards changed since the last sync).
    pub cards_listing: Option<String>,
    /// Set when the run kept stock read from WB's stock reports at this time instead of
    /// asking again: WB refreshes them every 30 minutes.
    pub stock_reused_from: Option<DateTime<Utc>>,
    /// Stable failure code, e.g. `wb_unauthorized`, `wb_unavailable`, `dead_lettered`.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The plan's product limit the run applied.
    pub product_limit: Option<i32>,
    /// True when the catalog had more products than that: the rest were not synced.
    pub product_limit_reached: bool,
}

// Every query returning a `SyncRun` lists its columns (a checked macro takes a literal,
// not a constant); the macro checks each list against the struct.

/// A count for an `integer` column: counts that large do not happen, and if one did the
/// column would say "at least this many" rather than wrap to a negative number.
fn count(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// Requests hitting WB (in all and by method) and 429s among them, as the client counted
/// them.
#[derive(Clone, Debug, Default)]
pub struct WbCounts {
    pub requests: u64,
    pub rate_limited: u64,
    pub by_method: BTreeMap<String, i64>,
}

impl WbCounts {
    pub fn of(session: &stock_tracker_wb::WbSession) -> Self {
        Self {
            requests: session.requests(),
            rate_limited: session.rate_limited(),
            by_method: session
                .requests_by_method()
                .into_iter()
                .map(|(m, n)| (m.to_string(), i64::try_from(n).unwrap_or(i64::MAX)))
                .collect(),
        }
    }
}

/// How a successful run spared WB requests.
#[derive(Clone, Copy, Debug)]
pub struct Economy<'a> {
    pub stock_source: Option<&'a str>,
    pub cards_listing: &'a str,
    pub stock_reused_from: Option<DateTime<Utc>>,
}

/// Inserts a queued run for `tenant` (row-level security refuses any tenant but the scope's);
/// fails with a unique violation on [`ONE_ACTIVE`] when one is already queued or running.
/// Only [`crate::jobs::queue::queue_sync`] calls this: a run is created with its job.
pub(crate) async fn queue(
    tx: &mut Tx,
    tenant: TenantId,
    trigger: Trigger,
) -> sqlx::Result<SyncRun> {
    sqlx::query_as!(
        SyncRun,
        r#"insert into sync_runs (id, tenant_id, trigger, status)
           values ($1, $2, $3, 'queued')
           returning id as "id: SyncRunId", trigger as "trigger: Trigger", status as "status: RunStatus", attempts,
                     queued_at, started_at, finished_at, duration_ms, products, sizes, warehouses,
                     stock_rows, stock_changes, history_rows, wb_requests,
                     wb_requests_by_method as "wb_requests_by_method: Json<BTreeMap<String, i64>>",
                     wb_rate_limited, stock_source, cards_listing, stock_reused_from,
                     error_code, error_message, product_limit, product_limit_reached"#,
        SyncRunId::new() as SyncRunId,
        tenant as TenantId,
        trigger as Trigger,
    )
    .fetch_one(&mut **tx)
    .await
}

/// Marks a run started and counts the attempt. `None` when the run is already finished
/// (a redelivered job), which the caller treats as done.
pub async fn start(tx: &mut Tx, id: SyncRunId, worker: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "update sync_runs set status = 'running', attempts = attempts + 1,
                started_at = clock_timestamp(), worker = $2
          where id = $1 and status in ('queued', 'running')
          returning attempts",
        id as SyncRunId,
        worker,
    )
    .fetch_optional(&mut **tx)
    .await
}

// clock_timestamp(), not now(): now() is when the transaction began, and the write this
// transaction does is part of the run's duration.
/// Records the product limit the run applied and whether the catalog reached it.
pub async fn note_product_limit(
    tx: &mut Tx,
    id: SyncRunId,
    limit: i64,
    reached: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update sync_runs set product_limit = $2, product_limit_reached = $3 where id = $1",
        id as SyncRunId,
        count(limit),
        reached,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn succeed(
    tx: &mut Tx,
    id: SyncRunId,
    applied: &Applied,
    wb: &WbCounts,
    economy: Economy<'_>,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update sync_runs set status = 'succeeded', finished_at = clock_timestamp(),
                duration_ms = (extract(epoch from clock_timestamp() - started_at) * 1000)::bigint,
                products = $2, sizes = $3, warehouses = $4, stock_rows = $5,
                stock_changes = $6, history_rows = $7, wb_requests = $8, wb_rate_limited = $9,
                stock_source = $10, error_code = null, error_message = $11,
                wb_requests_by_method = $12, cards_listing = $13, stock_reused_from = $14
          where id = $1",
        id as SyncRunId,
        count(applied.products),
        count(applied.sizes),
        count(applied.warehouses),
        count(applied.stock_rows),
        count(applied.stock_changes),
        count(applied.history_rows),
        count(wb.requests),
        count(wb.rate_limited),
        economy.stock_source,
        note,
        Json(&wb.by_method) as _,
        economy.cards_listing,
        economy.stock_reused_from,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Finishes the run as failed. Only a [`Failure`] is stored: sellers read `error_code` and
/// `error_message`, so they hold our vocabulary, never an error's own text.
pub async fn fail(
    tx: &mut Tx,
    id: SyncRunId,
    failure: &Failure,
    wb: &WbCounts,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update sync_runs set status = 'failed', finished_at = clock_timestamp(),
                duration_ms = (extract(epoch from clock_timestamp() - coalesce(started_at, queued_at)) * 1000)::bigint,
                error_code = $2, error_message = $3, wb_requests = $4, wb_rate_limited = $5,
                wb_requests_by_method = $6
          where id = $1",
        id as SyncRunId,
        failure.code(),
        failure.message(),
        count(wb.requests),
        count(wb.rate_limited),
        Json(&wb.by_method) as _,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that an attempt broke off (the job will be retried) as
/// [`Failure::attempt_failed`]; what broke is for the caller's log. Returns the attempts so
/// far.
pub async fn note_attempt_error(tx: &mut Tx, id: SyncRunId) -> sqlx::Result<Option<i32>> {
    let failure = Failure::attempt_failed();
    sqlx::query_scalar!(
        "update sync_runs set error_code = $2, error_message = $3
          where id = $1 and status = 'running' returning attempts",
        id as SyncRunId,
        failure.code(),
        failure.message(),
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get(tx: &mut Tx, id: SyncRunId) -> sqlx::Result<Option<SyncRun>> {
    sqlx::query_as!(
        SyncRun,
        r#"select id as "id: SyncRunId", trigger as "trigger: Trigger", status as "status: RunStatus", attempts,
                  queued_at, started_at, finished_at, duration_ms, products, sizes, warehouses,
                  stock_rows, stock_changes, history_rows, wb_requests,
                  wb_requests_by_method as "wb_requests_by_method: Json<BTreeMap<String, i64>>",
                  wb_rate_limited, stock_source, cards_listing, stock_reused_from,
                  error_code, error_message, product_limit, product_limit_reached
             from sync_runs where id = $1"#,
        id as SyncRunId
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Newest first, after the (queued_at, id) of the previous page's last run.
pub async fn page(
    tx: &mut Tx,
    after: Option<(DateTime<Utc>, SyncRunId)>,
    limit: u32,
) -> sqlx::Result<Vec<SyncRun>> {
    let (at, id) = after.unzip();
    sqlx::query_as!(
        SyncRun,
        r#"select id as "id: SyncRunId", trigger as "trigger: Trigger", status as "status: RunStatus", attempts,
                  queued_at, started_at, finished_at, duration_ms, products, sizes, warehouses,
                  stock_rows, stock_changes, history_rows, wb_requests,
                  wb_requests_by_method as "wb_requests_by_method: Json<BTreeMap<String, i64>>",
                  wb_rate_limited, stock_source, cards_listing, stock_reused_from,
                  error_code, error_message, product_limit, product_limit_reached
             from sync_runs
            where $1::timestamptz is null or (queued_at, id) < ($1, $2)
            order by queued_at desc, id desc limit $3"#,
        at,
        id as Option<SyncRunId>,
        i64::from(limit),
    )
    .fetch_all(&mut **tx)
    .await
}

/// The queued or running run, if any.
pub async fn active(tx: &mut Tx) -> sqlx::Result<Option<SyncRun>> {
    sqlx::query_as!(
        SyncRun,
        r#"select id as "id: SyncRunId", trigger as "trigger: Trigger", status as "status: RunStatus", attempts,
                  queued_at, started_at, finished_at, duration_ms, products, sizes, warehouses,
                  stock_rows, stock_changes, history_rows, wb_requests,
                  wb_requests_by_method as "wb_requests_by_method: Json<BTreeMap<String, i64>>",
                  wb_rate_limited, stock_source, cards_listing, stock_reused_from,
                  error_code, error_message, product_limit, product_limit_reached
             from sync_runs where status in ('queued', 'running') limit 1"#
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn last_with_status(tx: &mut Tx, status: RunStatus) -> sqlx::Result<Option<SyncRun>> {
    sqlx::query_as!(
        SyncRun,
        r#"select id as "id: SyncRunId", trigger as "trigger: Trigger", status as "status: RunStatus", attempts,
                  queued_at, started_at, finished_at, duration_ms, products, sizes, warehouses,
                  stock_rows, stock_changes, history_rows, wb_requests,
                  wb_requests_by_method as "wb_requests_by_method: Json<BTreeMap<String, i64>>",
                  wb_rate_limited, stock_source, cards_listing, stock_reused_from,
                  error_code, error_message, product_limit, product_limit_reached
             from sync_runs where status = $1
            order by finished_at desc nulls last, id desc limit 1"#,
        status as RunStatus,
    )
    .fetch_optional(&mut **tx)
    .await
}
