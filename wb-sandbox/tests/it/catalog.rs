//! The deterministic data the endpoints serve.

use std::collections::HashSet;

use wb_sandbox::SandboxConfig;
use wb_sandbox::catalog::{self, AGGREGATE_WAREHOUSE_ID};

fn cfg() -> SandboxConfig {
    SandboxConfig::default()
}

#[test]
fn same_seller_and_tick_give_identical_data() {
    let c = cfg();
    assert_eq!(catalog::products(17, &c), catalog::products(17, &c));
    assert_eq!(
        catalog::wb_warehouse_stock(17, &c, 5),
        catalog::wb_warehouse_stock(17, &c, 5)
    );
    assert_eq!(
        catalog::seller_stock(17, &c, 5),
        catalog::seller_stock(17, &c, 5)
    );
    assert_eq!(
        catalog::seller_warehouses(17, &c),
        catalog::seller_warehouses(17, &c)
    );
    let epoch = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    assert_eq!(
        catalog::orders(17, &c, 8, epoch),
        catalog::orders(17, &c, 8, epoch)
    );
}

#[test]
fn different_sellers_get_different_ids() {
    let c = cfg();
    let a = catalog::products(1, &c);
    let b = catalog::products(2, &c);
    let ids = |ps: &[catalog::Product]| -> (HashSet<i64>, HashSet<i64>, HashSet<String>) {
        (
            ps.iter().map(|p| p.nm_id).collect(),
            ps.iter()
                .flat_map(|p| p.sizes.iter().map(|s| s.chrt_id))
                .collect(),
            ps.iter()
                .flat_map(|p| p.sizes.iter().map(|s| s.skus[0].clone()))
                .collect(),
        )
    };
    let (nm_a, chrt_a, bc_a) = ids(&a);
    let (nm_b, chrt_b, bc_b) = ids(&b);
    assert_eq!(nm_a.len(), 50, "nmIDs unique within a seller");
    assert_eq!(chrt_a.len(), 150, "chrtIDs unique within a seller");
    assert_eq!(bc_a.len(), 150, "barcodes unique within a seller");
    assert!(nm_a.is_disjoint(&nm_b));
    assert!(chrt_a.is_disjoint(&chrt_b));
    assert!(bc_a.is_disjoint(&bc_b));
    assert_ne!(
        catalog::seller_warehouses(1, &c)[0].id,
        catalog::seller_warehouses(2, &c)[0].id
    );
}

#[test]
fn stock_rows_cover_every_size_and_warehouse() {
    let c = cfg();
    let rows = catalog::wb_warehouse_stock(3, &c, 0);
    assert_eq!(rows.len() as u64, c.wb_stock_rows());
    let aggregate: Vec<_> = rows
        .iter()
        .filter(|r| r.warehouse_id == AGGREGATE_WAREHOUSE_ID)
        .collect();
    assert_eq!(aggregate.len(), 150);
    assert!(aggregate.iter().all(|r| r.warehouse_name == "Склад WB"));
    assert!(
        rows.iter()
            .any(|r| r.warehouse_name == "Коледино" && r.warehouse_id > 0)
    );
    let zero = rows.iter().filter(|r| r.quantity == 0).count();
    assert!(
        zero > 0 && zero < rows.len(),
        "some but not all rows are empty: {zero}"
    );
    let seller = catalog::seller_stock(3, &c, 0);
    assert_eq!(seller.len(), 150);
}

#[test]
fn ticks_drain_stock_without_going_negative() {
    let c = cfg();
    let before = catalog::wb_warehouse_stock(5, &c, 0);
    let after = catalog::wb_warehouse_stock(5, &c, 30);
    let changed = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a.quantity != b.quantity)
        .count();
    assert!(changed > 0, "30 ticks of orders must move some stock");
    let drained = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| b.quantity < a.quantity)
        .count();
    assert!(drained > 0);
    // Quantities are unsigned, so "never below zero" means: draining stops at zero instead of
    // wrapping around.
    assert!(after.iter().all(|r| r.quantity < 10_000));
    let total =
        |rows: &[catalog::StockRow]| rows.iter().map(|r| u64::from(r.quantity)).sum::<u64>();
    assert!(total(&after) != total(&before));
}

#[test]
fn every_order_is_backed_by_drained_stock() {
    let c = cfg();
    let epoch = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let orders = catalog::orders(9, &c, 20, epoch);
    assert!(!orders.is_empty());
    let srids: HashSet<_> = orders.iter().map(|o| o.srid.clone()).collect();
    assert_eq!(srids.len(), orders.len(), "srid identifies an order");
    let changes: Vec<_> = orders.iter().map(|o| o.last_change_date.clone()).collect();
    let mut sorted = changes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        changes.len(),
        "lastChangeDate values are unique"
    );
    let sales = catalog::sales(9, &c, 20, epoch);
    assert!(sales.iter().any(|s| s.sale_id.starts_with('S')));
    assert!(sales.iter().all(|s| srids.contains(&s.srid)));
}

#[test]
fn a_single_busy_cell_bottoms_out_at_zero() {
    // One cell takes every simulated order, so it empties quickly and must stay at zero
    // (until a restock) rather than underflow.
    let c = SandboxConfig {
        products: 1,
        sizes_per_product: 1,
        wb_warehouses: 1,
        seller_warehouses: 0,
        ..SandboxConfig::default()
    };
    let mut sim = catalog::Simulation::new(11, &c);
    let mut hit_zero = false;
    let mut previous = sim.quantity(0);
    for tick in 1..=400 {
        sim.advance_to(tick);
        let q = sim.quantity(0);
        hit_zero |= q == 0;
        // Three events of at most 3 units, or restocks of at most 50 each.
        assert!(q + 9 >= previous, "tick {tick}: {previous} -> {q}");
        assert!(q <= previous + 150);
        previous = q;
    }
    assert!(
        hit_zero,
        "400 ticks of orders should empty the cell at least once"
    );
    let ordered = sim.orders().len() as u64;
    assert!(ordered > 0);
}
