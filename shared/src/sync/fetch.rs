//! Reads everything one sync needs from WB into a [`Snapshot`], touching no database.

use super::snapshot::{
    AGGREGATE_WAREHOUSE_ID, ProductRow, SizeRow, Snapshot, StockRow, StockSource, WarehouseKind,
    WarehouseRow,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use stock_tracker_wb::{Card, RemainsRow, TokenType, WbError, WbSession, WbStockRow};

const CARDS_PAGE: u32 = 100;
const STOCKS_PAGE: u64 = 100_000;

pub async fn fetch(
    session: &WbSession,
    token_type: TokenType,
    max_products: Option<usize>,
) -> Result<Snapshot, WbError> {
    // One extra card tells whether the plan's limit cut the catalog short.
    let mut cards = session
        .all_cards(CARDS_PAGE, max_products.map(|m| m + 1))
        .await?;
    let truncated = max_products.is_some_and(|m| cards.len() > m);
    if let Some(m) = max_products {
        cards.truncate(m);
    }
    let mut snapshot = catalog(&cards);
    snapshot.truncated = truncated;

    let mut stock = StockBuilder::default();
    // Base tokens may not call the stock report; others fall back if WB says so (403).
    let direct = if token_type == TokenType::Base {
        Err(WbError::Forbidden)
    } else {
        session.all_wb_warehouse_stocks(STOCKS_PAGE).await
    };
    match direct {
        Ok(rows) => {
            snapshot.source = Some(StockSource::StocksReport);
            rows.iter().for_each(|r| stock.add_wb_row(r));
        }
        Err(WbError::Forbidden) => {
            snapshot.source = Some(StockSource::WarehouseRemains);
            let rows = session.warehouse_remains_report().await?;
            let by_barcode = chrt_by_barcode(&snapshot.sizes);
            let by_size = chrt_by_size(&snapshot.sizes);
            for r in &rows {
                stock.add_remains_row(r, &by_barcode, &by_size);
            }
        }
        Err(other) => return Err(other),
    }

    let chrt_ids: Vec<i64> = snapshot.sizes.iter().map(|s| s.chrt_id).collect();
    let nm_of: HashMap<i64, i64> = snapshot
        .sizes
        .iter()
        .map(|s| (s.chrt_id, s.nm_id))
        .collect();
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

    let tracked: Option<HashSet<i64>> =
        truncated.then(|| snapshot.products.iter().map(|p| p.nm_id).collect());
    let (warehouses, stocks) = stock.finish(tracked.as_ref());
    snapshot.warehouses = warehouses;
    snapshot.stocks = stocks;
    Ok(snapshot)
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

    fn finish(self, tracked: Option<&HashSet<i64>>) -> (Vec<WarehouseRow>, Vec<StockRow>) {
        let stocks: Vec<StockRow> = self
            .rows
            .into_values()
            .filter(|r| tracked.is_none_or(|t| t.contains(&r.nm_id)))
            .collect();
        (self.warehouses.into_values().collect(), stocks)
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
        let (w, s) = b.finish(None);
        assert_eq!(w.len(), 1);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].quantity, s[0].in_way_to_client), (7, 2));
    }
}
