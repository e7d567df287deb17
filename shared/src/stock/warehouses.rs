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
    /// When the tenant's last successful sync finished (`super::SYNCED_AT`).
    #[serde(skip)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// The tenant's warehouses with their stock totals (kept by the sync: `super::totals`).
pub async fn all(tx: &mut Tx) -> sqlx::Result<Vec<Warehouse>> {
    sqlx::query_as!(
        Warehouse,
        r#"select kind as "kind: WarehouseKind", warehouse_id, name, region, is_aggregate,
                  stock_rows, quantity, updated_at, (select app_last_synced_at()) as synced_at
             from warehouses
            order by kind, warehouse_id"#
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
    /// When the tenant's last successful sync finished (`super::SYNCED_AT`).
    #[serde(skip)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// The distinct sizes across the catalog, for size filters.
pub async fn size_names(tx: &mut Tx) -> sqlx::Result<Vec<SizeName>> {
    sqlx::query_as!(
        SizeName,
        "select tech_size, products, variants, quantity, (select app_last_synced_at()) as synced_at
           from size_totals order by tech_size"
    )
    .fetch_all(&mut **tx)
    .await
}
