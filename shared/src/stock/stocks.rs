//! Current stock rows with filters, two sort orders and keyset paging.

use super::products::escape_like;
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
    // Really dynamic: which filters apply, the sort order and the keyset condition change the
    // statement's text, so it cannot be one checked literal. Only fixed SQL fragments are
    // pushed; every value a caller supplies goes through `push_bind`.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "select s.nm_id, s.chrt_id, p.vendor_code, p.title, p.brand, z.tech_size, z.barcodes,
                s.kind, s.warehouse_id, w.name as warehouse_name, s.quantity,
                s.in_way_to_client, s.in_way_from_client, s.updated_at
           from stocks s
           join warehouses w on w.tenant_id = s.tenant_id and w.kind = s.kind
                            and w.warehouse_id = s.warehouse_id
           left join sizes z on z.tenant_id = s.tenant_id and z.chrt_id = s.chrt_id
           left join products p on p.tenant_id = s.tenant_id and p.nm_id = s.nm_id
          where true",
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
    if let Some(size) = &filter.size {
        q.push(" and z.tech_size = ").push_bind(size.clone());
    }
    if let Some(search) = &filter.search {
        let pattern = format!("%{}%", escape_like(search));
        q.push(" and (p.vendor_code ilike ")
            .push_bind(pattern.clone())
            .push(" or p.title ilike ")
            .push_bind(pattern.clone())
            .push(" or p.brand ilike ")
            .push_bind(pattern)
            .push(" or ")
            .push_bind(search.clone())
            .push(" = any(z.barcodes))");
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
    if let Some(k) = after {
        let rest = |q: &mut QueryBuilder<Postgres>| {
            q.push("(s.nm_id, s.chrt_id, s.kind, s.warehouse_id) > (")
                .push_bind(k.nm_id)
                .push(", ")
                .push_bind(k.chrt_id)
                .push(", ")
                .push_bind(k.kind)
                .push(", ")
                .push_bind(k.warehouse_id)
                .push(")");
        };
        match sort {
            Sort::Product => {
                q.push(" and ");
                rest(&mut q);
            }
            Sort::QuantityAsc | Sort::QuantityDesc => {
                let op = if sort == Sort::QuantityAsc {
                    " > "
                } else {
                    " < "
                };
                q.push(" and (s.quantity")
                    .push(op)
                    .push_bind(k.quantity)
                    .push(" or (s.quantity = ")
                    .push_bind(k.quantity)
                    .push(" and ");
                rest(&mut q);
                q.push("))");
            }
        }
    }
    q.push(match sort {
        Sort::Product => " order by s.nm_id, s.chrt_id, s.kind, s.warehouse_id",
        Sort::QuantityAsc => " order by s.quantity, s.nm_id, s.chrt_id, s.kind, s.warehouse_id",
        Sort::QuantityDesc => {
            " order by s.quantity desc, s.nm_id, s.chrt_id, s.kind, s.warehouse_id"
        }
    });
    q.push(" limit ").push_bind(i64::from(limit));
    q.build_query_as().fetch_all(&mut **tx).await
}
