use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// Quantity changes of one product in [from, to), oldest first, after the given key.
pub async fn page(
    tx: &mut Tx,
    nm_id: i64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, WarehouseKind, i64, i64)>,
    limit: u32,
) -> sqlx::Result<Vec<Change>> {
    let (a_at, a_kind, a_wh, a_chrt) = match after {
        Some((at, kind, wh, chrt)) => (Some(at), Some(kind), Some(wh), Some(chrt)),
        None => (None, None, None, None),
    };
    sqlx::query_as!(
        Change,
        r#"select recorded_at, chrt_id, kind as "kind: WarehouseKind", warehouse_id, quantity,
                  previous, (select app_last_synced_at()) as synced_at
             from stock_history
            where nm_id = $1
              and ($2::timestamptz is null or recorded_at >= $2)
              and ($3::timestamptz is null or recorded_at < $3)
              and ($4::timestamptz is null
                   or (recorded_at, kind, warehouse_id, chrt_id) > ($4, $5, $6, $7))
            order by recorded_at, kind, warehouse_id, chrt_id
            limit $8"#,
        nm_id,
        from,
        to,
        a_at,
        a_kind as Option<WarehouseKind>,
        a_wh,
        a_chrt,
        i64::from(limit),
    )
    .fetch_all(&mut **tx)
    .await
}
