use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
    let mut q = QueryBuilder::new("");
    push_page(&mut q, search, after_nm_id, limit);
    q.build_query_as().fetch_all(&mut **tx).await
}

/// The plan of [`page`] (`EXPLAIN (FORMAT JSON)`).
pub async fn plan(
    tx: &mut Tx,
    search: Option<&str>,
    after_nm_id: Option<i64>,
    limit: u32,
) -> sqlx::Result<serde_json::Value> {
    super::explain(tx, |q| push_page(q, search, after_nm_id, limit)).await
}

/// The page walks the products' primary key from the cursor to the limit; sizes and stock
/// are summed per page row. Built per request rather than one checked literal with
/// `($1 is null or …)` conditions: those cannot be index conditions in a generic plan, so
/// a later page would walk every product before its cursor. Values go through `push_bind`.
fn push_page(
    q: &mut QueryBuilder<Postgres>,
    search: Option<&str>,
    after_nm_id: Option<i64>,
    limit: u32,
) {
    q.push(
        "select p.nm_id, p.vendor_code, p.brand, p.title, p.subject_name,
                (select count(*) from sizes z
                  where z.tenant_id = p.tenant_id and z.nm_id = p.nm_id) as sizes,
                coalesce((select sum(s.quantity) from stocks s
                           where s.tenant_id = p.tenant_id and s.nm_id = p.nm_id), 0)::bigint
                    as quantity,
                p.updated_at, ",
    );
    q.push(super::SYNCED_AT);
    q.push(" as synced_at from products p where p.tenant_id = app_current_tenant()");
    if let Some(after) = after_nm_id {
        q.push(" and p.nm_id > ").push_bind(after);
    }
    if let Some(search) = search {
        q.push(" and (");
        push_text_match(q, search);
        q.push(
            " or exists (select 1 from sizes z
                          where z.tenant_id = p.tenant_id and z.nm_id = p.nm_id and ",
        )
        .push_bind(search.to_string())
        .push(" = any(z.barcodes)))");
    }
    q.push(" order by p.nm_id limit ")
        .push_bind(i64::from(limit));
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

/// One size of a product with one of its stock rows (`None` fields: the size has no stock
/// anywhere). Sizes come in `chrt_id` order, each size's stock by warehouse.
#[derive(Clone, Debug)]
pub struct SizeStock {
    pub chrt_id: i64,
    pub tech_size: String,
    pub wb_size: String,
    pub barcodes: Vec<String>,
    pub kind: Option<WarehouseKind>,
    pub warehouse_id: Option<i64>,
    pub warehouse_name: Option<String>,
    pub quantity: Option<i64>,
    pub in_way_to_client: Option<i64>,
    pub in_way_from_client: Option<i64>,
}

/// The product, with the time of the tenant's last successful sync (`super::SYNCED_AT`).
pub async fn get(
    tx: &mut Tx,
    nm_id: i64,
) -> sqlx::Result<Option<(Product, Option<DateTime<Utc>>)>> {
    let row = sqlx::query!(
        "select nm_id, imt_id, vendor_code, brand, title, subject_name, updated_at,
                (select app_last_synced_at()) as synced_at
           from products where nm_id = $1",
        nm_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| {
        let product = Product {
            nm_id: r.nm_id,
            imt_id: r.imt_id,
            vendor_code: r.vendor_code,
            brand: r.brand,
            title: r.title,
            subject_name: r.subject_name,
            updated_at: r.updated_at,
        };
        (product, r.synced_at)
    }))
}

/// The product's sizes and their stock per warehouse, in one statement.
pub async fn sizes_with_stock(tx: &mut Tx, nm_id: i64) -> sqlx::Result<Vec<SizeStock>> {
    sqlx::query_as!(
        SizeStock,
        r#"select z.chrt_id, z.tech_size, z.wb_size, z.barcodes,
                  s.kind as "kind?: WarehouseKind", s.warehouse_id as "warehouse_id?",
                  w.name as "warehouse_name?", s.quantity as "quantity?",
                  s.in_way_to_client as "in_way_to_client?",
                  s.in_way_from_client as "in_way_from_client?"
             from sizes z
             left join stocks s on s.tenant_id = z.tenant_id and s.nm_id = z.nm_id
                               and s.chrt_id = z.chrt_id
             left join warehouses w on w.tenant_id = s.tenant_id and w.kind = s.kind
                                   and w.warehouse_id = s.warehouse_id
            where z.nm_id = $1
            order by z.chrt_id, s.kind, s.warehouse_id"#,
        nm_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// What a search matches in a product `p`: a case-insensitive substring of its vendor code,
/// title or brand (`%` and `_` in the search match themselves). One definition for the
/// products and stocks pages.
pub(super) fn push_text_match(q: &mut QueryBuilder<Postgres>, search: &str) {
    let pattern = format!("%{}%", escape_like(search));
    q.push("(p.vendor_code ilike ")
        .push_bind(pattern.clone())
        .push(" or p.title ilike ")
        .push_bind(pattern.clone())
        .push(" or p.brand ilike ")
        .push_bind(pattern)
        .push(")");
}

/// `%` and `_` in user input match themselves, not any character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
