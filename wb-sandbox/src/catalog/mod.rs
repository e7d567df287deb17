//! Deterministic seller data. Everything here is a pure function of
//! (seller id, [`SandboxConfig`], simulation tick) so integration tests can compute exactly
//! what the HTTP endpoints will answer.
//!
//! Stock lives in "cells": one cell per (product size, warehouse). WB cells come first, in
//! (product, size, WB warehouse) order, which is also the row order of
//! `stocks-report/wb-warehouses`; seller cells follow in (seller warehouse, product, size)
//! order.

mod orders;
mod products;
mod remains;
mod simulation;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::SandboxConfig;

pub use orders::{OrderRow, SaleRow, orders, sales};
pub(crate) use orders::{Stamp, order_row, order_stamps, sale_row, sale_stamps, tick_period};
pub use products::{Dimensions, Product, Size};
pub(crate) use remains::remains_rows;
pub use remains::{RemainsGrouping, RemainsRow, RemainsWarehouse, warehouse_remains};
pub use simulation::{Cell, Dims, Location, OrderEvent, Simulation};

/// `warehouseId` WB now reports for all its Russian warehouses together.
pub const AGGREGATE_WAREHOUSE_ID: i64 = -999_999;

/// A WB warehouse as it appears in stock reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WbWarehouse {
    pub id: i64,
    /// `warehouseName` in `stocks-report/wb-warehouses`.
    pub name: &'static str,
    pub region_name: &'static str,
    /// Name in the `warehouse_remains` report and in orders/sales, where the aggregate is
    /// called "Склад WB РФ".
    pub report_name: &'static str,
}

/// The aggregate row set first, then named warehouses; `SandboxConfig::wb_warehouses`
/// takes a prefix of this list.
pub const WB_WAREHOUSES: &[WbWarehouse] = &[
    WbWarehouse {
        id: AGGREGATE_WAREHOUSE_ID,
        name: "Склад WB",
        region_name: "Склад WB",
        report_name: "Склад WB РФ",
    },
    WbWarehouse {
        id: 507,
        name: "Коледино",
        region_name: "Центральный",
        report_name: "Коледино",
    },
    WbWarehouse {
        id: 120_762,
        name: "Электросталь",
        region_name: "Центральный",
        report_name: "Электросталь",
    },
    WbWarehouse {
        id: 117_986,
        name: "Казань",
        region_name: "Приволжский",
        report_name: "Казань",
    },
    WbWarehouse {
        id: 130_744,
        name: "Краснодар",
        region_name: "Южный",
        report_name: "Краснодар",
    },
    WbWarehouse {
        id: 1733,
        name: "Екатеринбург - Испытателей 14г",
        region_name: "Уральский",
        report_name: "Екатеринбург - Испытателей 14г",
    },
    WbWarehouse {
        id: 686,
        name: "Новосибирск",
        region_name: "Сибирский",
        report_name: "Новосибирск",
    },
    WbWarehouse {
        id: 206_348,
        name: "Тула",
        region_name: "Центральный",
        report_name: "Тула",
    },
    WbWarehouse {
        id: 208_277,
        name: "Невинномысск",
        region_name: "Северо-Кавказский",
        report_name: "Невинномысск",
    },
    WbWarehouse {
        id: 2737,
        name: "Санкт-Петербург Уткина Заводь",
        region_name: "Северо-Западный",
        report_name: "Санкт-Петербург Уткина Заводь",
    },
    WbWarehouse {
        id: 301_983,
        name: "Волгоград",
        region_name: "Южный",
        report_name: "Волгоград",
    },
    WbWarehouse {
        id: 157_338,
        name: "Минск",
        region_name: "Беларусь",
        report_name: "Минск",
    },
    WbWarehouse {
        id: 218_987,
        name: "Алматы Атакент",
        region_name: "Казахстан",
        report_name: "Алматы Атакент",
    },
];

pub fn wb_warehouses(cfg: &SandboxConfig) -> &'static [WbWarehouse] {
    &WB_WAREHOUSES[..(cfg.wb_warehouses as usize).clamp(1, WB_WAREHOUSES.len())]
}

/// A seller's own (FBS/DBS) warehouse, serialised exactly like `GET /api/v3/warehouses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerWarehouse {
    pub name: String,
    pub office_id: i64,
    pub id: i64,
    pub cargo_type: i32,
    pub delivery_type: i32,
    pub is_deleting: bool,
    pub is_processing: bool,
}

/// One row of `stocks-report/wb-warehouses`, serialised exactly as WB does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRow {
    pub nm_id: i64,
    pub chrt_id: i64,
    pub warehouse_id: i64,
    pub warehouse_name: &'static str,
    pub region_name: &'static str,
    pub quantity: u32,
    pub in_way_to_client: u32,
    pub in_way_from_client: u32,
}

/// Stock of one size on one seller warehouse (`POST /api/v3/stocks/{warehouseId}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerStockRow {
    pub warehouse_id: i64,
    pub nm_id: i64,
    pub chrt_id: i64,
    pub amount: u32,
}

/// Tick-independent data of one seller, with lookups the endpoints need.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub seller_id: i64,
    pub dims: Dims,
    pub products: Vec<Product>,
    pub seller_warehouses: Vec<SellerWarehouse>,
    pub wb_warehouses: &'static [WbWarehouse],
    /// Product indexes sorted by (updatedAt, nmID): the content API's paging order. Cards
    /// in the trash are left out.
    pub(crate) by_updated: Vec<u32>,
    chrt_index: HashMap<i64, (u32, u32)>,
    nm_index: HashMap<i64, u32>,
}

impl Catalog {
    pub fn new(seller_id: i64, cfg: &SandboxConfig) -> Self {
        let products = products::generate(seller_id, cfg);
        let seller_warehouses = products::seller_warehouses(seller_id, cfg);
        let mut chrt_index =
            HashMap::with_capacity(products.len() * cfg.sizes_per_product as usize);
        let mut nm_index = HashMap::with_capacity(products.len());
        for (p, product) in products.iter().enumerate() {
            nm_index.insert(product.nm_id, p as u32);
            for (s, size) in product.sizes.iter().enumerate() {
                chrt_index.insert(size.chrt_id, (p as u32, s as u32));
            }
        }
        let by_updated: Vec<u32> = (0..products.len() as u32).collect();
        let mut catalog = Self {
            seller_id,
            dims: Dims::of(cfg),
            products,
            seller_warehouses,
            wb_warehouses: wb_warehouses(cfg),
            by_updated,
            chrt_index,
            nm_index,
        };
        catalog.sort_listing();
        catalog
    }

    /// A copy in which the `n` cards updated longest ago are edited at `at` (or just after
    /// the newest card, if that is later): their titles are marked and their `updatedAt`
    /// moves to that time, a microsecond apart. Returns the copy and the cards' nmIDs.
    pub fn with_touched(&self, n: usize, at: DateTime<Utc>) -> (Catalog, Vec<i64>) {
        let mut edited = self.clone();
        let newest = self
            .by_updated
            .last()
            .map(|&i| self.products[i as usize].updated_at);
        let start = newest.map_or(at, |t| at.max(t + chrono::Duration::milliseconds(1)));
        let mut nm_ids = Vec::with_capacity(n);
        for (k, &i) in self.by_updated.iter().take(n).enumerate() {
            let p = &mut edited.products[i as usize];
            p.updated_at = start + chrono::Duration::microseconds(k as i64);
            p.title = format!("{} (изменено)", p.title);
            nm_ids.push(p.nm_id);
        }
        edited.sort_listing();
        (edited, nm_ids)
    }

    /// A copy without the `n` cards updated longest ago in `cards/list` (moved to the trash,
    /// which the list does not show). Their stock stays, as WB keeps reporting it.
    pub fn with_trashed(&self, n: usize) -> (Catalog, Vec<i64>) {
        let mut edited = self.clone();
        let gone: Vec<u32> = self.by_updated.iter().take(n).copied().collect();
        edited.by_updated.retain(|i| !gone.contains(i));
        let nm_ids = gone
            .iter()
            .map(|&i| self.products[i as usize].nm_id)
            .collect();
        (edited, nm_ids)
    }

    fn sort_listing(&mut self) {
        let products = &self.products;
        self.by_updated.sort_by_key(|&i| {
            let p = &products[i as usize];
            (p.updated_at, p.nm_id)
        });
    }

    /// (product index, size index) of a chrtID of this seller.
    pub fn find_chrt(&self, chrt_id: i64) -> Option<(u32, u32)> {
        self.chrt_index.get(&chrt_id).copied()
    }

    pub fn find_nm(&self, nm_id: i64) -> Option<u32> {
        self.nm_index.get(&nm_id).copied()
    }

    pub fn seller_warehouse_index(&self, warehouse_id: i64) -> Option<u32> {
        self.seller_warehouses
            .iter()
            .position(|w| w.id == warehouse_id)
            .map(|i| i as u32)
    }

    /// The `stocks-report/wb-warehouses` row of a WB cell at the simulation's tick.
    pub fn wb_row(&self, sim: &Simulation, cell: usize) -> StockRow {
        let c = self.dims.cell(cell);
        let Location::Wb(w) = c.location else {
            panic!("cell {cell} is not a WB cell");
        };
        let product = &self.products[c.product as usize];
        let warehouse = &self.wb_warehouses[w as usize];
        let (to_client, from_client) = sim.in_way(cell);
        StockRow {
            nm_id: product.nm_id,
            chrt_id: product.sizes[c.size as usize].chrt_id,
            warehouse_id: warehouse.id,
            warehouse_name: warehouse.name,
            region_name: warehouse.region_name,
            quantity: sim.quantity(cell),
            in_way_to_client: to_client,
            in_way_from_client: from_client,
        }
    }
}

/// The seller's product cards.
pub fn products(seller_id: i64, cfg: &SandboxConfig) -> Vec<Product> {
    products::generate(seller_id, cfg)
}

pub fn seller_warehouses(seller_id: i64, cfg: &SandboxConfig) -> Vec<SellerWarehouse> {
    products::seller_warehouses(seller_id, cfg)
}

/// Every `stocks-report/wb-warehouses` row at `tick`, in the order the endpoint pages them.
pub fn wb_warehouse_stock(seller_id: i64, cfg: &SandboxConfig, tick: u64) -> Vec<StockRow> {
    let catalog = Catalog::new(seller_id, cfg);
    let sim = Simulation::at(seller_id, cfg, tick);
    (0..catalog.dims.wb_cells())
        .map(|cell| catalog.wb_row(&sim, cell))
        .collect()
}

/// Stock of every size on every seller warehouse at `tick`, in (warehouse, product, size)
/// order.
pub fn seller_stock(seller_id: i64, cfg: &SandboxConfig, tick: u64) -> Vec<SellerStockRow> {
    let catalog = Catalog::new(seller_id, cfg);
    let sim = Simulation::at(seller_id, cfg, tick);
    let dims = catalog.dims;
    (dims.wb_cells()..dims.cells())
        .map(|cell| {
            let c = dims.cell(cell);
            let Location::Seller(h) = c.location else {
                unreachable!("seller cells follow WB cells")
            };
            let product = &catalog.products[c.product as usize];
            SellerStockRow {
                warehouse_id: catalog.seller_warehouses[h as usize].id,
                nm_id: product.nm_id,
                chrt_id: product.sizes[c.size as usize].chrt_id,
                amount: sim.quantity(cell),
            }
        })
        .collect()
}

/// Wall-clock time of the start of `tick` given the simulation epoch (tick 0).
pub fn tick_time(cfg: &SandboxConfig, epoch: DateTime<Utc>, tick: u64) -> DateTime<Utc> {
    let period = tick_period(cfg);
    epoch + chrono::Duration::microseconds(period.saturating_mul(tick as i64))
}
