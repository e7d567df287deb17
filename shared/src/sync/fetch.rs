//! Reads what one sync needs from WB into a [`Snapshot`], touching no database: the cards
//! the [`Plan`] asks for (all, or those changed since the saved cursor) and the kinds of
//! stock it asks for.

use super::snapshot::{
    AGGREGATE_WAREHOUSE_ID, CardsListing, CardsResume, ProductRow, SizeRow, Snapshot, StockRow,
    StockSource, WarehouseKind, WarehouseRow,
};
use super::state::Plan;
use std::collections::{BTreeMap, HashMap, HashSet};
use stock_tracker_wb::{
    Card, CardsCursor, Method, RemainsRow, SellerWarehouseStockRow, WbError, WbSession, WbStockRow,
};

const CARDS_PAGE: u32 = 100;
/// WB's largest page: a seller with up to 250,000 rows per report costs one request.
const STOCKS_PAGE: u64 = stock_tracker_wb::STOCKS_REPORT_PAGE_MAX;

/// `stored_sizes` are the sizes already stored; with an incremental listing they map
/// answers keyed by barcode or size (the fallbacks) for cards that did not change. A full
/// listing ignores them.
pub async fn fetch(
    session: &WbSession,
    plan: &Plan,
    max_products: Option<usize>,
    stored_sizes: &[SizeRow],
) -> Result<Snapshot, WbError> {
    let mut snapshot = match &plan.cards_since {
        None => {
            // One extra card tells whether the plan's limit cut the catalog short.
            let mut listing = session
                .full_listing(CARDS_PAGE, max_products.map(|m| m + 1))
                .await?;
            let truncated = max_products.is_some_and(|m| listing.cards.len() > m);
            if let Some(m) = max_products {
                listing.cards.truncate(m);
            }
            let mut snapshot = catalog(&listing.cards);
            snapshot.truncated = truncated;
            snapshot.resume = listing.resume.map(resume);
            snapshot
        }
        Some(since) => {
            let cursor = CardsCursor {
                updated_at: since.updated_at.clone(),
                nm_id: since.nm_id,
                total: 0,
            };
            let listing = session.cards_changed_since(&cursor, CARDS_PAGE).await?;
            let mut snapshot = catalog(&listing.cards);
            snapshot.listing = CardsListing::Incremental;
            snapshot.resume = listing.resume.map(resume);
            snapshot
        }
    };
    if plan.stock.is_empty() {
        return Ok(snapshot);
    }

    // The sizes answers are mapped with: this listing's, over the stored ones.
    let sizes: Vec<SizeRow> = match snapshot.listing {
        CardsListing::Full => snapshot.sizes.clone(),
        CardsListing::Incremental => {
            let listed: HashSet<i64> = snapshot.sizes.iter().map(|s| s.chrt_id).collect();
            let changed: HashSet<i64> = snapshot.products.iter().map(|p| p.nm_id).collect();
            stored_sizes
                .iter()
                .filter(|s| !listed.contains(&s.chrt_id) && !changed.contains(&s.nm_id))
                .chain(&snapshot.sizes)
                .cloned()
                .collect()
        }
    };

    let mut stock = StockBuilder::default();
    if plan.stock.contains(&WarehouseKind::Wb) {
        let source = wb_stock(session, &sizes, &mut stock).await?;
        snapshot.fresh.push((WarehouseKind::Wb, source));
    }
    if plan.stock.contains(&WarehouseKind::Seller) {
        let source = seller_stock(session, &sizes, &mut stock).await?;
        snapshot.fresh.push((WarehouseKind::Seller, source));
    }
    let (warehouses, stocks) = stock.finish();
    snapshot.warehouses = warehouses;
    snapshot.stocks = stocks;
    Ok(snapshot)
}

fn resume(c: CardsCursor) -> CardsResume {
    CardsResume {
        updated_at: c.updated_at,
        nm_id: c.nm_id,
    }
}

/// Stock on WB's warehouses: the report where the session's limit row may call it (every
/// token type but a base token without our secret), else (and when WB answers 403) the
/// async `warehouse_remains` report.
async fn wb_stock(
    session: &WbSession,
    sizes: &[SizeRow],
    stock: &mut StockBuilder,
) -> Result<StockSource, WbError> {
    let direct = if session.allows(Method::StocksReportWbWarehouses) {
        session.all_wb_warehouse_stocks(STOCKS_PAGE).await
    } else {
        Err(WbError::Forbidden)
    };
    match direct {
        Ok(rows) => {
            rows.iter().for_each(|r| stock.add_wb_row(r));
            Ok(StockSource::StocksReport)
        }
        Err(WbError::Forbidden) => {
            let rows = session.warehouse_remains_report().await?;
            let by_barcode = chrt_by_barcode(sizes);
            let by_size = chrt_by_size(sizes);
            for r in &rows {
                stock.add_remains_row(r, &by_barcode, &by_size);
            }
            Ok(StockSource::WarehouseRemains)
        }
        Err(other) => Err(other),
    }
}

/// Stock on the seller's warehouses: one report for the tokens that may call it, else (base
/// tokens, or a 403) the warehouse list and `/api/v3/stocks/{id}` per warehouse.
async fn seller_stock(
    session: &WbSession,
    sizes: &[SizeRow],
    stock: &mut StockBuilder,
) -> Result<StockSource, WbError> {
    let report = if session.allows(Method::StocksReportSellerWarehouses) {
        session.all_seller_warehouse_stocks(STOCKS_PAGE).await
    } else {
        Err(WbError::Forbidden)
    };
    match report {
        Ok(rows) => {
            rows.iter().for_each(|r| stock.add_seller_row(r));
            return Ok(StockSource::SellerWarehousesReport);
        }
        Err(WbError::Forbidden) => {}
        Err(other) => return Err(other),
    }
    let chrt_ids: Vec<i64> = sizes.iter().map(|s| s.chrt_id).collect();
    let nm_of: HashMap<i64, i64> = sizes.iter().map(|s| (s.chrt_id, s.nm_id)).collect();
    for w in session.seller_warehouses().await? {
        if w.is_deleting {
            continue;
        }
        stock.warehouse(WarehouseKind::Seller, w.id, &w.name, None);
        for s in session.seller_stocks(w.id, &chrt_ids).await? {
            if let Some(&nm_id) = nm_of.get(&s.chrt_id) {
                stock.add(
                    WarehouseKind::Seller,
                    w.id,
                    s.chrt_id,
                    nm_id,
                    s.amount,
                    0,
                    0,
                );
            }
        }
    }
    Ok(StockSource::MarketplaceStocks)
}

fn catalog(cards: &[Card]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let mut seen_sizes = HashSet::new();
    for c in cards {
        snapshot.products.push(ProductRow {
            nm_id: c.nm_id,
            imt_id: (c.imt_id != 0).then_some(c.imt_id),
            vendor_code: c.vendor_code.clone(),
            brand: c.brand.clone(),
            title: c.title.clone(),
            subject_name: c.subject_name.clone(),
            wb_updated_at: (!c.updated_at.is_empty()).then(|| c.updated_at.clone()),
        });
        for s in &c.sizes {
            if seen_sizes.insert(s.chrt_id) {
                snapshot.sizes.push(SizeRow {
                    chrt_id: s.chrt_id,
                    nm_id: c.nm_id,
                    tech_size: s.tech_size.clone(),
                    wb_size: s.wb_size.clone(),
                    barcodes: s.skus.clone(),
                });
            }
        }
    }
    snapshot
}

fn chrt_by_barcode(sizes: &[SizeRow]) -> HashMap<&str, (i64, i64)> {
    sizes
        .iter()
        .flat_map(|s| {
            s.barcodes
                .iter()
                .map(move |b| (b.as_str(), (s.chrt_id, s.nm_id)))
        })
        .collect()
}

fn chrt_by_size(sizes: &[SizeRow]) -> HashMap<(i64, &str), i64> {
    sizes
        .iter()
        .map(|s| ((s.nm_id, s.tech_size.as_str()), s.chrt_id))
        .collect()
}

/// The remains report names warehouses but gives no ids. WB's aggregate keeps its id; other
/// names get a stable id derived from the name, in a range no real WB id uses.
fn remains_warehouse_id(name: &str) -> i64 {
    if name.starts_with("Склад WB") {
        return AGGREGATE_WAREHOUSE_ID;
    }
    // FNV-1a: stable across processes and releases, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    -(1_000_000_000 + (hash % 1_000_000_000).cast_signed())
}

type StockKey = (WarehouseKind, i64, i64);

/// Collects stock rows, summing duplicates of one (warehouse, size): WB may list a size
/// twice on its aggregate warehouse, and one key must be one row.
#[derive(Default)]
struct StockBuilder {
    warehouses: BTreeMap<(WarehouseKind, i64), WarehouseRow>,
    rows: BTreeMap<StockKey, StockRow>,
}

impl StockBuilder {
    fn warehouse(&mut self, kind: WarehouseKind, id: i64, name: &str, region: Option<&str>) {
        self.warehouses
            .entry((kind, id))
            .or_insert_with(|| WarehouseRow {
                kind,
                warehouse_id: id,
                name: name.to_string(),
                region: region.filter(|r| !r.is_empty()).map(str::to_string),
            });
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: WarehouseKind,
        warehouse_id: i64,
        chrt_id: i64,
        nm_id: i64,
        quantity: i64,
        to_client: i64,
        from_client: i64,
    ) {
        let row = self
            .rows
            .entry((kind, warehouse_id, chrt_id))
            .or_insert(StockRow {
                kind,
                warehouse_id,
                chrt_id,
                nm_id,
                quantity: 0,
                in_way_to_client: 0,
                in_way_from_client: 0,
            });
        row.quantity += quantity;
        row.in_way_to_client += to_client;
        row.in_way_from_client += from_client;
    }

    fn add_wb_row(&mut self, r: &WbStockRow) {
        self.warehouse(
            WarehouseKind::Wb,
            r.warehouse_id,
            &r.warehouse_name,
            Some(&r.region_name),
        );
        self.add(
            WarehouseKind::Wb,
            r.warehouse_id,
            r.chrt_id,
            r.nm_id,
            r.quantity,
            r.in_way_to_client,
            r.in_way_from_client,
        );
    }

    fn add_seller_row(&mut self, r: &SellerWarehouseStockRow) {
        self.warehouse(
            WarehouseKind::Seller,
            r.warehouse_id,
            &r.warehouse_name,
            Some(&r.region_name),
        );
        self.add(
            WarehouseKind::Seller,
            r.warehouse_id,
            r.chrt_id,
            r.nm_id,
            r.quantity,
            0,
            0,
        );
    }

    fn add_remains_row(
        &mut self,
        r: &RemainsRow,
        by_barcode: &HashMap<&str, (i64, i64)>,
        by_size: &HashMap<(i64, &str), i64>,
    ) {
        let chrt = by_barcode
            .get(r.barcode.as_str())
            .map(|(chrt, _)| *chrt)
            .or_else(|| by_size.get(&(r.nm_id, r.tech_size.as_str())).copied());
        // A size the catalog does not know cannot be keyed; WB lists it again next time.
        let Some(chrt_id) = chrt else { return };
        let mut first = true;
        for w in r.stock_warehouses() {
            let id = remains_warehouse_id(&w.warehouse_name);
            self.warehouse(WarehouseKind::Wb, id, &w.warehouse_name, None);
            // In-transit counts belong to the size, not to a warehouse: book them once.
            let (to, from) = if first {
                (r.in_way_to_client(), r.in_way_from_client())
            } else {
                (0, 0)
            };
            first = false;
            self.add(
                WarehouseKind::Wb,
                id,
                chrt_id,
                r.nm_id,
                w.quantity,
                to,
                from,
            );
        }
    }

    fn finish(self) -> (Vec<WarehouseRow>, Vec<StockRow>) {
        (
            self.warehouses.into_values().collect(),
            self.rows.into_values().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remains_ids_are_stable_and_never_collide_with_real_ones() {
        assert_eq!(remains_warehouse_id("Склад WB"), AGGREGATE_WAREHOUSE_ID);
        let a = remains_warehouse_id("Коледино");
        assert_eq!(a, remains_warehouse_id("Коледино"));
        assert_ne!(a, remains_warehouse_id("Казань"));
        assert!(a <= -1_000_000_000);
    }

    #[test]
    fn duplicate_rows_of_one_key_are_summed() {
        let mut b = StockBuilder::default();
        for q in [3, 4] {
            b.add_wb_row(&WbStockRow {
                nm_id: 1,
                chrt_id: 10,
                warehouse_id: AGGREGATE_WAREHOUSE_ID,
                warehouse_name: "Склад WB".into(),
                region_name: "Склад WB".into(),
                quantity: q,
                in_way_to_client: 1,
                in_way_from_client: 0,
            });
        }
        let (w, s) = b.finish();
        assert_eq!(w.len(), 1);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].quantity, s[0].in_way_to_client), (7, 2));
    }
}
