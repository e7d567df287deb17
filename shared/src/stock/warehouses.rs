use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Warehouse {
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub name: String,
    pub region: Option<String>,
    /// WB's aggregate of its Russian warehouses (id -999999).
    pub is_aggregate: bool,
    pub stock_rows: i64,
    pub quantity: i64,
    pub updated_at: DateTime<Utc>,
}

pub async fn all(tx: &mut Tx) -> sqlx::Result<Vec<Warehouse>> {
    sqlx::query_as!(
        Warehouse,
        r#"select w.kind as "kind: WarehouseKind", w.warehouse_id, w.name, w.region,
                  w.is_aggregate, count(s.chrt_id) as "stock_rows!",
                  coalesce(sum(s.quantity), 0)::bigint as "quantity!", w.updated_at
             from warehouses w
             left join stocks s using (tenant_id, kind, warehouse_id)
            group by w.tenant_id, w.kind, w.warehouse_id
            order by w.kind, w.warehouse_id"#
    )
    .fetch_all(&mut **tx)
    .await
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SizeName {
    pub tech_size: String,
    /// Products that come in this size.
    pub products: i64,
    /// Size variants (chrtIDs) with this size.
    pub variants: i64,
    pub quantity: i64,
}

/// The distinct sizes across the catalog, for size filters.
pub async fn size_names(tx: &mut Tx) -> sqlx::Result<Vec<SizeName>> {
    sqlx::query_as!(
        SizeName,
        r#"select z.tech_size, count(distinct z.nm_id) as "products!", count(*) as "variants!",
                  coalesce(sum(q.quantity), 0)::bigint as "quantity!"
             from sizes z
             left join (select chrt_id, sum(quantity) as quantity from stocks group by chrt_id) q
                    using (chrt_id)
            group by z.tech_size
            order by z.tech_size"#
    )
    .fetch_all(&mut **tx)
    .await
}
