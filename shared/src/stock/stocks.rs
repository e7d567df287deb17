//! Current stock rows with filters, two sort orders and keyset paging.

use super::products::push_text_match;
use crate::sync::WarehouseKind;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Option<WarehouseKind>,
    pub warehouse_id: Option<i64>,
    pub nm_id: Option<i64>,
    pub chrt_id: Option<i64>,
    /// A tech size such as `42` or `M`.
    pub size: Option<String>,
    /// Vendor code, title or brand substring, or an exact barcode.
    pub search: Option<String>,
    pub in_stock: Option<bool>,
    /// Only rows with quantity strictly below this.
    pub below: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Sort {
    /// By product, size, then warehouse.
    #[default]
    Product,
    QuantityAsc,
    QuantityDesc,
}

/// Where the previous page ended, in the page's sort order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub quantity: i64,
    pub nm_id: i64,
    pub chrt_id: i64,
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
}

/// One size of one product on one warehouse.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StockLine {
    pub nm_id: i64,
    pub chrt_id: i64,
    pub vendor_code: Option<String>,
    pub title: Option<String>,
    pub brand: Option<String>,
    pub tech_size: Option<String>,
    pub barcodes: Option<Vec<String>>,
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub warehouse_name: String,
    pub quantity: i64,
    pub in_way_to_client: i64,
    pub in_way_from_client: i64,
    pub updated_at: DateTime<Utc>,
    /// When the tenant's last successful sync finished: the same on every row, read in the
    /// page's own statement so a page costs one query (see [`super::SYNCED_AT`]).
    #[serde(skip)]
    pub synced_at: Option<DateTime<Utc>>,
}

impl StockLine {
    pub fn key(&self) -> Key {
        Key {
            quantity: self.quantity,
            nm_id: self.nm_id,
            chrt_id: self.chrt_id,
            kind: self.kind,
            warehouse_id: self.warehouse_id,
        }
    }
}

pub async fn page(
    tx: &mut Tx,
    filter: &Filter,
    sort: Sort,
    after: Option<&Key>,
    limit: u32,
) -> sqlx::Result<Vec<StockLine>> {
    let mut q = page_query(filter, sort, after, limit);
    q.build_query_as().fetch_all(&mut **tx).await
}

/// The plan PostgreSQL chooses for a page (`EXPLAIN (FORMAT JSON)`), for the benchmark's
/// report and the test that the plan walks an index.
pub async fn plan(
    tx: &mut Tx,
    filter: &Filter,
    sort: Sort,
    after: Option<&Key>,
    limit: u32,
) -> sqlx::Result<serde_json::Value> {
    super::explain(tx, |q| push_page(q, filter, sort, after, limit)).await
}

/// The page statement's text (binds as `$1`, `$2`, …), for the benchmark that replays the
/// api's exact SQL through `pgbench`.
pub fn page_sql(filter: &Filter, sort: Sort, after: Option<&Key>, limit: u32) -> String {
    page_query(filter, sort, after, limit)
        .sql()
        .as_str()
        .to_string()
}

fn page_query(
    filter: &Filter,
    sort: Sort,
    after: Option<&Key>,
    limit: u32,
) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new("");
    push_page(&mut q, filter, sort, after, limit);
    q
}

/// The page query: the page is found first, among the tenant's stock rows alone, by walking
/// the index of its order (`stocks_product_order_idx` or `stocks_quantity_order_idx`) up to
/// the limit; only then are its rows joined to warehouses, sizes and products, at most
/// `limit` lookups each. The LIMIT inside the subquery keeps the planner from joining first,
/// which it did with no statistics on a freshly synced tenant (nested loops over every row).
/// Filters on sizes and products are evaluated per candidate row in index order.
fn push_page(
    q: &mut QueryBuilder<Postgres>,
    filter: &Filter,
    sort: Sort,
    after: Option<&Key>,
    limit: u32,
) {
    // Really dynamic: which filters apply, the sort order and the keyset condition change the
    // statement's text, so it cannot be one checked literal. Only fixed SQL fragments are
    // pushed; every value a caller supplies goes through `push_bind`.
    q.push(
        "select s.nm_id, s.chrt_id, p.vendor_code, p.title, p.brand, z.tech_size, z.barcodes,
                s.kind, s.warehouse_id, w.name as warehouse_name, s.quantity,
                s.in_way_to_client, s.in_way_from_client, s.updated_at, ",
    );
    q.push(super::SYNCED_AT);
    q.push(
        " as synced_at
           from (select * from stocks s
                  where s.tenant_id = app_current_tenant()",
    );
    if let Some(kind) = &filter.kind {
        q.push(" and s.kind = ").push_bind(*kind);
    }
    if let Some(id) = filter.warehouse_id {
        q.push(" and s.warehouse_id = ").push_bind(id);
    }
    if let Some(nm) = filter.nm_id {
        q.push(" and s.nm_id = ").push_bind(nm);
    }
    if let Some(chrt) = filter.chrt_id {
        q.push(" and s.chrt_id = ").push_bind(chrt);
    }
    // The size filter is a scalar subquery correlated to the stock row: PostgreSQL never
    // turns it into a join, so the walk stays in index order and each candidate row costs
    // one primary-key lookup. (As an EXISTS, the planner without statistics drove the join
    // from sizes into stocks, which has no index by chrt_id alone, and timed out.)
    if let Some(size) = &filter.size {
        q.push(
            " and (select z.tech_size from sizes z
                    where z.tenant_id = s.tenant_id and z.chrt_id = s.chrt_id) = ",
        )
        .push_bind(size.clone());
    }
    // A search is the one filter no index order can serve: the matching products and
    // barcodes are found once (uncorrelated, so hashed), and the walk in index order keeps
    // the rows whose product or size matched. Its cost grows with the tenant's stock rows
    // (about 0.2 s per 100,000), never with a join's estimate.
    if let Some(search) = &filter.search {
        q.push(
            " and (s.nm_id in (select p.nm_id from products p
                                where p.tenant_id = app_current_tenant() and ",
        );
        push_text_match(q, search);
        q.push(
            ") or s.chrt_id in (select z.chrt_id from sizes z
                                  where z.tenant_id = app_current_tenant() and ",
        )
        .push_bind(search.clone())
        .push(" = any(z.barcodes)))");
    }
    match filter.in_stock {
        Some(true) => {
            q.push(" and s.quantity > 0");
        }
        Some(false) => {
            q.push(" and s.quantity = 0");
        }
        None => {}
    }
    if let Some(below) = filter.below {
        q.push(" and s.quantity < ").push_bind(below);
    }
    // Each order is one index's order (the descending one walks the quantity index
    // backwards, so ties on quantity come by product descending too), and the keyset is a
    // row comparison over the same columns, which the index scan starts from directly.
    let (columns, op, order) = match sort {
        Sort::Product => (
            "(s.nm_id, s.chrt_id, s.kind, s.warehouse_id)",
            " > ",
            " order by s.nm_id, s.chrt_id, s.kind, s.warehouse_id",
        ),
        Sort::QuantityAsc => (
            "(s.quantity, s.nm_id, s.chrt_id, s.kind, s.warehouse_id)",
            " > ",
            " order by s.quantity, s.nm_id, s.chrt_id, s.kind, s.warehouse_id",
        ),
        Sort::QuantityDesc => (
            "(s.quantity, s.nm_id, s.chrt_id, s.kind, s.warehouse_id)",
            " < ",
            " order by s.quantity desc, s.nm_id desc, s.chrt_id desc, s.kind desc, \
             s.warehouse_id desc",
        ),
    };
    if let Some(k) = after {
        q.push(" and ").push(columns).push(op).push("(");
        if sort != Sort::Product {
            q.push_bind(k.quantity).push(", ");
        }
        q.push_bind(k.nm_id)
            .push(", ")
            .push_bind(k.chrt_id)
            .push(", ")
            .push_bind(k.kind)
            .push(", ")
            .push_bind(k.warehouse_id)
            .push(")");
    }
    q.push(order);
    q.push(" limit ").push_bind(i64::from(limit));
    q.push(
        ") s
           join warehouses w on w.tenant_id = s.tenant_id and w.kind = s.kind
                            and w.warehouse_id = s.warehouse_id
           left join sizes z on z.tenant_id = s.tenant_id and z.chrt_id = s.chrt_id
           left join products p on p.tenant_id = s.tenant_id and p.nm_id = s.nm_id",
    );
    q.push(order);
}
