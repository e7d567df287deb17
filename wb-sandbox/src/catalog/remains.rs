//! The `warehouse_remains` report: WB-warehouse stock grouped the way the query asks.

use std::collections::HashMap;

use serde::Serialize;

use super::{Catalog, Simulation};
use crate::SandboxConfig;

/// `groupBy*` and `filter*` query parameters of `GET /api/v1/warehouse_remains`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemainsGrouping {
    pub brand: bool,
    pub subject: bool,
    /// `groupBySa`: seller article (vendor code).
    pub sa: bool,
    pub nm: bool,
    pub barcode: bool,
    pub size: bool,
    /// `filterPics`: -1 only without photos, 1 only with photos, 0 all.
    pub filter_pics: i32,
    /// `filterVolume`: -1 only without dimensions, 3 only above three litres, 0 all.
    pub filter_volume: i32,
}

impl RemainsGrouping {
    /// What a sync wants: one row per size of every card.
    pub fn per_size() -> Self {
        Self {
            nm: true,
            size: true,
            brand: true,
            subject: true,
            sa: true,
            barcode: true,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemainsWarehouse {
    pub warehouse_name: &'static str,
    pub quantity: u64,
}

/// One report row; fields of dimensions that are not grouped by stay empty (0 for nmId).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemainsRow {
    pub brand: String,
    pub subject_name: String,
    pub vendor_code: String,
    pub nm_id: i64,
    pub barcode: String,
    pub tech_size: String,
    /// Present only with `groupByNm=true`, as WB documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
    pub warehouses: Vec<RemainsWarehouse>,
}

const IN_WAY_TO_CLIENT: &str = "В пути до получателей";
const IN_WAY_FROM_CLIENT: &str = "В пути возвраты на склад WB";
const TOTAL_ON_WAREHOUSES: &str = "Всего находится на складах";

pub(crate) fn remains_rows(
    cat: &Catalog,
    sim: &Simulation,
    g: &RemainsGrouping,
) -> Vec<RemainsRow> {
    let wh = cat.wb_warehouses.len();
    // Per group: in-way-to, in-way-from, total, then one slot per WB warehouse.
    let mut groups: Vec<(RemainsRow, Vec<u64>)> = Vec::new();
    let mut index: HashMap<(i64, String, String, String, String, String), usize> = HashMap::new();
    for (p, product) in cat.products.iter().enumerate() {
        let pics_ok = match g.filter_pics {
            1 => product.photos > 0,
            -1 => product.photos == 0,
            _ => true,
        };
        let volume = product.dimensions.volume_litres();
        let volume_ok = match g.filter_volume {
            3 => volume > 3.0,
            // Every sandbox card has dimensions.
            -1 => false,
            _ => true,
        };
        if !pics_ok || !volume_ok {
            continue;
        }
        for (s, size) in product.sizes.iter().enumerate() {
            let pick = |on: bool, v: &str| if on { v.to_string() } else { String::new() };
            let key = (
                if g.nm { product.nm_id } else { 0 },
                pick(g.brand, product.brand),
                pick(g.subject, product.subject_name),
                pick(g.sa, &product.vendor_code),
                pick(g.barcode, &size.skus[0]),
                pick(g.size, &size.tech_size),
            );
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((
                    RemainsRow {
                        brand: key.1.clone(),
                        subject_name: key.2.clone(),
                        vendor_code: key.3.clone(),
                        nm_id: key.0,
                        barcode: key.4.clone(),
                        tech_size: key.5.clone(),
                        volume: g.nm.then_some(volume),
                        warehouses: Vec::new(),
                    },
                    vec![0; 3 + wh],
                ));
                groups.len() - 1
            });
            let sums = &mut groups[slot].1;
            for w in 0..wh {
                let cell = cat.dims.wb_cell(p as u32, s as u32, w as u32);
                let qty = u64::from(sim.quantity(cell));
                let (to_client, from_client) = sim.in_way(cell);
                sums[0] += u64::from(to_client);
                sums[1] += u64::from(from_client);
                sums[2] += qty;
                sums[3 + w] += qty;
            }
        }
    }
    groups
        .into_iter()
        .map(|(mut row, sums)| {
            let names = [IN_WAY_TO_CLIENT, IN_WAY_FROM_CLIENT, TOTAL_ON_WAREHOUSES]
                .into_iter()
                .chain(cat.wb_warehouses.iter().map(|w| w.report_name));
            // WB lists a warehouse only when its quantity is non-zero.
            row.warehouses = names
                .zip(sums)
                .filter(|(_, q)| *q > 0)
                .map(|(warehouse_name, quantity)| RemainsWarehouse {
                    warehouse_name,
                    quantity,
                })
                .collect();
            row
        })
        .collect()
}

/// The report `GET /api/v1/warehouse_remains/tasks/{id}/download` returns for a task created
/// at `tick`.
pub fn warehouse_remains(
    seller_id: i64,
    cfg: &SandboxConfig,
    tick: u64,
    grouping: &RemainsGrouping,
) -> Vec<RemainsRow> {
    let cat = Catalog::new(seller_id, cfg);
    let sim = Simulation::at(seller_id, cfg, tick);
    remains_rows(&cat, &sim, grouping)
}
