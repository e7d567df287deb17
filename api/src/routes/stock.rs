//! Synced data: products, sizes, warehouses, stock and its history. All reads are cached
//! per tenant (see `http::cached`) and carry the time of the sync they come from.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::cached::cached;
use crate::http::input::{PathParams, QueryParams};
use crate::http::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stock_tracker_shared::ids::NmId;
use stock_tracker_shared::stock::{SearchText, history, products, stocks, synced_at, warehouses};
use stock_tracker_shared::sync::WarehouseKind;
use stock_tracker_shared::tenancy::{self, Tx};
use utoipa::{IntoParams, ToSchema};

/// The sync time a page's rows carry (its statement reads it), or, for an empty page,
/// asked separately.
async fn page_synced_at<T>(
    tx: &mut Tx,
    rows: &[T],
    carried: impl Fn(&T) -> Option<DateTime<Utc>>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    match rows.first() {
        Some(row) => Ok(carried(row)),
        None => synced_at(tx).await,
    }
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    /// Substring of vendor code, title or brand, or an exact barcode.
    #[param(value_type = Option<String>, max_length = 100)]
    pub search: Option<SearchText>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/products", tag = "stock",
    security(("bearer" = [])),
    params(ProductsQuery),
    responses(
        (status = 200, description = "Products by nm_id", body = Page<products::ProductSummary>,
         headers(("X-Cache" = String, description = "HIT or MISS"), ("X-Cache-TTL" = u64, description = "Seconds the cached answer lives"), ("X-Data-Synced-At" = String, description = "When the data was synced"))),
        (status = 422, description = "Bad `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(q): QueryParams<ProductsQuery>,
) -> ApiResult<Response> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let limit = page.limit()?;
    let after: Option<i64> = page.after()?;
    let search = q.search.as_ref().and_then(SearchText::as_filter);
    let name = format!("products:{}", serde_json::to_string(&q).unwrap_or_default());
    cached(&state, auth.tenant, &name, async {
        let mut tx = tenancy::begin(&state.db, auth.scope().walking_indexes()).await?;
        let rows = products::page(&mut tx, search, after, limit + 1).await?;
        let at = page_synced_at(&mut tx, &rows, |p| p.synced_at).await?;
        tenancy::end_read(tx);
        let page = Page::from_rows(rows, limit, |p| p.nm_id, |p| p);
        Ok((page, at))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarehouseStockView {
    /// `wb` (WB's warehouses) or `seller` (the seller's own).
    pub kind: WarehouseKind,
    pub warehouse_id: i64,
    pub warehouse_name: String,
    pub quantity: i64,
    pub in_way_to_client: i64,
    pub in_way_from_client: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SizeView {
    pub chrt_id: i64,
    pub tech_size: String,
    pub wb_size: String,
    pub barcodes: Vec<String>,
    pub quantity: i64,
    pub stock: Vec<WarehouseStockView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub nm_id: i64,
    pub imt_id: Option<i64>,
    pub vendor_code: String,
    pub brand: String,
    pub title: String,
    pub subject_name: String,
    pub quantity: i64,
    pub sizes: Vec<SizeView>,
    pub updated_at: DateTime<Utc>,
}

#[utoipa::path(
    get, path = "/api/v1/products/{nm_id}", tag = "stock",
    security(("bearer" = [])),
    params(("nm_id" = i64, Path, description = "WB article (nmID)")),
    responses(
        (status = 200, description = "The product with sizes, barcodes and stock per warehouse", body = ProductView),
        (status = 404, description = "No such product in this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(NmId(nm_id)): PathParams<NmId>,
) -> ApiResult<Response> {
    cached(&state, auth.tenant, &format!("product:{nm_id}"), async {
        let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
        let (product, at) = products::get(&mut tx, nm_id)
            .await?
            .ok_or_else(|| ApiError::not_found("product"))?;
        let rows = products::sizes_with_stock(&mut tx, nm_id).await?;
        tenancy::end_read(tx);
        let mut sizes: Vec<SizeView> = Vec::new();
        for r in rows {
            if sizes.last().is_none_or(|z| z.chrt_id != r.chrt_id) {
                sizes.push(SizeView {
                    chrt_id: r.chrt_id,
                    tech_size: r.tech_size,
                    wb_size: r.wb_size,
                    barcodes: r.barcodes,
                    quantity: 0,
                    stock: Vec::new(),
                });
            }
            // A stock row counts once its warehouse is known (as the synced rows always are).
            let (Some(size), Some(kind), Some(warehouse_id), Some(warehouse_name)) =
                (sizes.last_mut(), r.kind, r.warehouse_id, r.warehouse_name)
            else {
                continue;
            };
            let quantity = r.quantity.unwrap_or(0);
            size.quantity += quantity;
            size.stock.push(WarehouseStockView {
                kind,
                warehouse_id,
                warehouse_name,
                quantity,
                in_way_to_client: r.in_way_to_client.unwrap_or(0),
                in_way_from_client: r.in_way_from_client.unwrap_or(0),
            });
        }
        let view = ProductView {
            nm_id: product.nm_id,
            imt_id: product.imt_id,
            vendor_code: product.vendor_code,
            brand: product.brand,
            title: product.title,
            subject_name: product.subject_name,
            quantity: sizes.iter().map(|s| s.quantity).sum(),
            sizes,
            updated_at: product.updated_at,
        };
        Ok((view, at))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Changes at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Changes before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/products/{nm_id}/stock-history", tag = "stock",
    security(("bearer" = [])),
    params(("nm_id" = i64, Path, description = "WB article (nmID)"), HistoryQuery),
    responses(
        (status = 200, description = "Quantity changes, oldest first", body = Page<history::Change>),
        (status = 404, description = "No such product in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad `from`/`to`, `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stock_history(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(NmId(nm_id)): PathParams<NmId>,
    QueryParams(q): QueryParams<HistoryQuery>,
) -> ApiResult<Response> {
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(ApiError::invalid(
            "invalid_range",
            "from",
            "`from` must not be after `to`.",
        ));
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, WarehouseKind, i64, i64)> = page.after()?;
    let name = format!(
        "history:{nm_id}:{}",
        serde_json::to_string(&q).unwrap_or_default()
    );
    cached(&state, auth.tenant, &name, async {
        let mut tx = tenancy::begin(&state.db, auth.scope().walking_indexes()).await?;
        let rows = history::page(&mut tx, nm_id, q.from, q.to, after, limit + 1).await?;
        // Changes of a product prove it exists; only an empty page needs to ask.
        if rows.is_empty() && products::get(&mut tx, nm_id).await?.is_none() {
            return Err(ApiError::not_found("product"));
        }
        let at = page_synced_at(&mut tx, &rows, |c| c.synced_at).await?;
        tenancy::end_read(tx);
        let page = Page::from_rows(
            rows,
            limit,
            |c| (c.recorded_at, c.kind, c.warehouse_id, c.chrt_id),
            |c| c,
        );
        Ok((page, at))
    })
    .await
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockSort {
    Product,
    Quantity,
    #[serde(rename = "-quantity")]
    QuantityDesc,
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StocksQuery {
    /// `wb` (WB's warehouses) or `seller` (the seller's own).
    #[param(inline)]
    pub kind: Option<WarehouseKind>,
    pub warehouse_id: Option<i64>,
    pub nm_id: Option<i64>,
    pub chrt_id: Option<i64>,
    /// Tech size, e.g. `42` or `M`.
    pub size: Option<String>,
    /// Substring of vendor code, title or brand, or an exact barcode.
    #[param(value_type = Option<String>, max_length = 100)]
    pub search: Option<SearchText>,
    /// true: only rows with stock; false: only rows at zero.
    pub in_stock: Option<bool>,
    /// Only rows with quantity below this number.
    pub below: Option<i64>,
    /// `product` (default), `quantity` or `-quantity`.
    #[param(inline)]
    pub sort: Option<StockSort>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/stocks", tag = "stock",
    security(("bearer" = [])),
    params(StocksQuery),
    responses(
        (status = 200, description = "Stock rows (one size on one warehouse)", body = Page<stocks::StockLine>,
         headers(("X-Cache" = String, description = "HIT or MISS"), ("X-Cache-TTL" = u64, description = "Seconds the cached answer lives"), ("X-Data-Synced-At" = String, description = "When the data was synced"))),
        (status = 422, description = "A bad filter (`invalid_query`, with the field), `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_stocks(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(q): QueryParams<StocksQuery>,
) -> ApiResult<Response> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let limit = page.limit()?;
    let after: Option<stocks::Key> = page.after()?;
    let sort = match q.sort.unwrap_or(StockSort::Product) {
        StockSort::Product => stocks::Sort::Product,
        StockSort::Quantity => stocks::Sort::QuantityAsc,
        StockSort::QuantityDesc => stocks::Sort::QuantityDesc,
    };
    let filter = stocks::Filter {
        kind: q.kind,
        warehouse_id: q.warehouse_id,
        nm_id: q.nm_id,
        chrt_id: q.chrt_id,
        size: q.size.clone().filter(|s| !s.trim().is_empty()),
        search: q
            .search
            .as_ref()
            .and_then(SearchText::as_filter)
            .map(String::from),
        in_stock: q.in_stock,
        below: q.below,
    };
    let name = format!("stocks:{}", serde_json::to_string(&q).unwrap_or_default());
    cached(&state, auth.tenant, &name, async {
        let mut tx = tenancy::begin(&state.db, auth.scope().walking_indexes()).await?;
        let rows = stocks::page(&mut tx, &filter, sort, after.as_ref(), limit + 1).await?;
        let at = page_synced_at(&mut tx, &rows, |r| r.synced_at).await?;
        tenancy::end_read(tx);
        let page = Page::from_rows(rows, limit, |r| r.key(), |r| r);
        Ok((page, at))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListOf<T> {
    pub items: Vec<T>,
}

#[utoipa::path(
    get, path = "/api/v1/warehouses", tag = "stock",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Warehouses with stock totals", body = ListOf<warehouses::Warehouse>),
    )
)]
pub async fn list_warehouses(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    cached(&state, auth.tenant, "warehouses", async {
        let mut tx = tenancy::begin(&state.db, auth.scope().walking_indexes()).await?;
        let rows = warehouses::all(&mut tx).await?;
        let at = page_synced_at(&mut tx, &rows, |w| w.synced_at).await?;
        tenancy::end_read(tx);
        Ok((ListOf { items: rows }, at))
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/sizes", tag = "stock",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The distinct sizes in the catalog, for size filters", body = ListOf<warehouses::SizeName>),
    )
)]
pub async fn list_sizes(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    cached(&state, auth.tenant, "sizes", async {
        let mut tx = tenancy::begin(&state.db, auth.scope().walking_indexes()).await?;
        let rows = warehouses::size_names(&mut tx).await?;
        let at = page_synced_at(&mut tx, &rows, |z| z.synced_at).await?;
        tenancy::end_read(tx);
        Ok((ListOf { items: rows }, at))
    })
    .await
}
