use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Change {
    pub recorded_at: DateTime<Utc>,
    pub chrt_id: i64,
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub quantity: i64,
    /// The quantity before; absent when the row first appeared.
    pub previous: Option<i64>,
    /// When the tenant's last successful sync finished (`super::SYNCED_AT`).
    #[serde(skip)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// Where a page of changes ends: time, warehouse kind, warehouse, size.
pub type HistoryKey = (DateTime<Utc>, WarehouseKind, i64, i64);

/// Quantity changes of one product in [from, to), oldest first, after the given key.
pub async fn page(
    tx: &mut Tx,
    nm_id: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<HistoryKey>,
    limit: u32,
) -> sqlx::Result<Vec<Change>> {
    let mut q = QueryBuilder::new("");
    push_page(&mut q, nm_id, from, to, after, limit);
    q.build_query_as().fetch_all(&mut **tx).await
}

/// The plan of [`page`] (`EXPLAIN (FORMAT JSON)`).
pub async fn plan(
    tx: &mut Tx,
    nm_id: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<HistoryKey>,
    limit: u32,
) -> sqlx::Result<serde_json::Value> {
    super::explain(tx, |q| push_page(q, nm_id, from, to, after, limit)).await
}

/// The page walks `stock_history_product_idx` (tenant, product, time) of each monthly
/// partition from the cursor to the limit. Built per request: optional bounds written as
/// `($n is null or …)` cannot be index conditions in a generic plan.
fn push_page(
    q: &mut QueryBuilder<Postgres>,
    nm_id: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<HistoryKey>,
    limit: u32,
) {
    q.push("select recorded_at, chrt_id, kind, warehouse_id, quantity, previous, ");
    q.push(super::SYNCED_AT);
    q.push(
        " as synced_at from stock_history
           where tenant_id = app_current_tenant() and nm_id = ",
    )
    .push_bind(nm_id);
    if let Some(from) = from {
        q.push(" and recorded_at >= ").push_bind(from);
    }
    if let Some(to) = to {
        q.push(" and recorded_at < ").push_bind(to);
    }
    if let Some((at, kind, warehouse, chrt)) = after {
        q.push(" and recorded_at >= ")
            .push_bind(at)
            .push(" and (recorded_at, kind, warehouse_id, chrt_id) > (")
            .push_bind(at)
            .push(", ")
            .push_bind(kind)
            .push(", ")
            .push_bind(warehouse)
            .push(", ")
            .push_bind(chrt)
            .push(")");
    }
    q.push(" order by recorded_at, kind, warehouse_id, chrt_id limit ")
        .push_bind(i64::from(limit));
}
