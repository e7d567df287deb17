use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProductSummary {
    pub nm_id: i64,
    pub vendor_code: String,
    pub brand: String,
    pub title: String,
    pub subject_name: String,
    /// Number of sizes.
    pub sizes: i64,
    /// Total quantity over all warehouses.
    pub quantity: i64,
    pub updated_at: DateTime<Utc>,
    /// When the tenant's last successful sync finished (`super::SYNCED_AT`).
    #[serde(skip)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// Products by nm_id, optionally matching `search` in vendor code, title or brand
/// (case-insensitive substring) or equal to one of their barcodes.
pub async fn page(
    tx: &mut Tx,
    search: Option<&str>,
    after_nm_id: Option<i64>,
    limit: u32,
) -> sqlx::Result<Vec<ProductSummary>> {
    let pattern = search.map(|s| format!("%{}%", escape_like(s)));
    sqlx::query_as!(
        ProductSummary,
        r#"select p.nm_id, p.vendor_code, p.brand, p.title, p.subject_name,
                  (select count(*) from sizes z where z.nm_id = p.nm_id) as "sizes!",
                  coalesce((select sum(s.quantity) from stocks s where s.nm_id = p.nm_id), 0)::bigint
                      as "quantity!",
                  p.updated_at,
                  (select app_last_synced_at()) as synced_at
             from products p
            where ($1::bigint is null or p.nm_id > $1)
              and ($2::text is null
                   or p.vendor_code ilike $2 or p.title ilike $2 or p.brand ilike $2
                   or exists (select 1 from sizes z
                               where z.nm_id = p.nm_id and $3::text = any(z.barcodes)))
            order by p.nm_id
            limit $4"#,
        after_nm_id,
        pattern,
        search,
        i64::from(limit),
    )
    .fetch_all(&mut **tx)
    .await
}

#[derive(Clone, Debug, Serialize)]
pub struct Product {
    pub nm_id: i64,
    pub imt_id: Option<i64>,
    pub vendor_code: String,
    pub brand: String,
    pub title: String,
    pub subject_name: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Size {
    pub chrt_id: i64,
    pub tech_size: String,
    pub wb_size: String,
    pub barcodes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SizeStock {
    pub chrt_id: i64,
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub warehouse_name: String,
    pub quantity: i64,
    pub in_way_to_client: i64,
    pub in_way_from_client: i64,
}

pub async fn get(tx: &mut Tx, nm_id: i64) -> sqlx::Result<Option<Product>> {
    sqlx::query_as!(
        Product,
        "select nm_id, imt_id, vendor_code, brand, title, subject_name, updated_at
           from products where nm_id = $1",
        nm_id
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn sizes(tx: &mut Tx, nm_id: i64) -> sqlx::Result<Vec<Size>> {
    sqlx::query_as!(
        Size,
        "select chrt_id, tech_size, wb_size, barcodes from sizes where nm_id = $1 order by chrt_id",
        nm_id
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn stock(tx: &mut Tx, nm_id: i64) -> sqlx::Result<Vec<SizeStock>> {
    sqlx::query_as!(
        SizeStock,
        r#"select s.chrt_id, s.kind as "kind: WarehouseKind", s.warehouse_id,
                  w.name as warehouse_name, s.quantity, s.in_way_to_client, s.in_way_from_client
             from stocks s join warehouses w using (tenant_id, kind, warehouse_id)
            where s.nm_id = $1
            order by s.chrt_id, s.kind, s.warehouse_id"#,
        nm_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// `%` and `_` in user input match themselves, not any character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
