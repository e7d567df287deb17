//! Statistics-report rows derived from the simulated order events.
//!
//! Every unit drained by the simulation is one order (WB: "1 row = 1 order = 1 unit").
//! Its fate is seeded: ~10 % are cancelled 1–2 ticks later, ~70 % are bought out 1–3 ticks
//! later (and ~5 % of all orders come back as a return two ticks after the sale), the rest
//! stay in transit. Times are `epoch + tick × period + slot`, where the slot is unique per
//! (event, unit, delay, kind), so no two rows of a report share a `lastChangeDate` and
//! paging by it is exact.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, Location, OrderEvent, Simulation};
use crate::SandboxConfig;
use crate::prng::hash;
use crate::timefmt::{from_micros, moscow_day_start, moscow_naive};
use crate::words::REGIONS;

const FATE: u64 = 20;
/// WB prints this for "not cancelled".
const NO_CANCEL_DATE: &str = "0001-01-01T00:00:00";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRow {
    pub date: String,
    pub last_change_date: String,
    pub warehouse_name: String,
    pub warehouse_type: String,
    pub country_name: String,
    pub oblast_okrug_name: String,
    pub region_name: String,
    pub supplier_article: String,
    pub nm_id: i64,
    pub barcode: String,
    pub category: String,
    pub subject: String,
    pub brand: String,
    pub tech_size: String,
    #[serde(rename = "incomeID")]
    pub income_id: i64,
    pub is_supply: bool,
    pub is_realization: bool,
    pub total_price: f64,
    pub discount_percent: i64,
    pub spp: f64,
    pub finished_price: f64,
    pub price_with_disc: f64,
    pub is_cancel: bool,
    pub cancel_date: String,
    pub sticker: String,
    pub g_number: String,
    pub srid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaleRow {
    pub date: String,
    pub last_change_date: String,
    pub warehouse_name: String,
    pub warehouse_type: String,
    pub country_name: String,
    pub oblast_okrug_name: String,
    pub region_name: String,
    pub supplier_article: String,
    pub nm_id: i64,
    pub barcode: String,
    pub category: String,
    pub subject: String,
    pub brand: String,
    pub tech_size: String,
    #[serde(rename = "incomeID")]
    pub income_id: i64,
    pub is_supply: bool,
    pub is_realization: bool,
    pub total_price: f64,
    pub discount_percent: i64,
    pub spp: f64,
    pub payment_sale_amount: i64,
    pub for_pay: f64,
    pub finished_price: f64,
    pub price_with_disc: f64,
    #[serde(rename = "saleID")]
    pub sale_id: String,
    pub sticker: String,
    pub g_number: String,
    pub srid: String,
}

/// Length of one tick in microseconds. With automatic ticks off, manual ticks are spaced a
/// minute apart so timestamps stay plausible.
pub(crate) fn tick_period(cfg: &SandboxConfig) -> i64 {
    let us = cfg.drain_every.as_micros() as i64;
    if us <= 0 { 60_000_000 } else { us.max(1000) }
}

struct Clock {
    epoch_us: i64,
    period_us: i64,
    slot_us: i64,
}

impl Clock {
    fn new(cfg: &SandboxConfig, sim: &Simulation, epoch: DateTime<Utc>) -> Self {
        let period_us = tick_period(cfg);
        let slots = i64::from(sim.dims().events_per_tick()) * 24 + 1;
        Self {
            epoch_us: epoch.timestamp_micros(),
            period_us,
            slot_us: (period_us / slots).max(1),
        }
    }

    /// `delay` is the number of ticks since the order (0 for the order itself), `kind`
    /// separates cancellations from orders and returns from sales.
    fn at(&self, tick: u64, e: &OrderEvent, delay: u64, kind: u64) -> i64 {
        let slot = ((u64::from(e.event) * 3 + u64::from(e.unit)) * 4 + delay) * 2 + kind;
        self.epoch_us + tick as i64 * self.period_us + (slot as i64 + 1) * self.slot_us
    }
}

struct Fate {
    h: u64,
    cancel_after: Option<u64>,
    sale_after: Option<u64>,
    returned: bool,
}

fn fate(seller_id: i64, e: &OrderEvent) -> Fate {
    let h = hash(&[
        seller_id as u64,
        FATE,
        u64::from(e.tick),
        u64::from(e.event),
        u64::from(e.unit),
    ]);
    let roll = h % 100;
    Fate {
        h,
        cancel_after: (roll < 10).then_some(1 + (h >> 8) % 2),
        sale_after: (10..80).contains(&roll).then_some(1 + (h >> 8) % 3),
        returned: (75..80).contains(&roll),
    }
}

/// Fields orders and sales share.
struct Common {
    warehouse_name: String,
    warehouse_type: &'static str,
    region: (&'static str, &'static str),
    supplier_article: String,
    nm_id: i64,
    barcode: String,
    category: &'static str,
    subject: &'static str,
    brand: &'static str,
    tech_size: String,
    income_id: i64,
    total_price: f64,
    discount_percent: i64,
    spp: f64,
    price_with_disc: f64,
    finished_price: f64,
    sticker: String,
    g_number: String,
    srid: String,
}

fn common(cat: &Catalog, e: &OrderEvent, h: u64) -> Common {
    let cell = cat.dims.cell(e.cell as usize);
    let product = &cat.products[cell.product as usize];
    let (warehouse_name, warehouse_type) = match cell.location {
        Location::Wb(w) => (
            cat.wb_warehouses[w as usize].report_name.to_string(),
            "Склад WB",
        ),
        Location::Seller(s) => (
            cat.seller_warehouses[s as usize].name.clone(),
            "Склад продавца",
        ),
    };
    let total_price = f64::from(product.price);
    let discount = i64::from(product.discount_percent);
    let spp = ((h >> 16) % 30) as f64;
    let price_with_disc = (total_price * (100 - discount) as f64 / 100.0).round();
    let finished_price = (price_with_disc * (100.0 - spp) / 100.0).round();
    let h2 = hash(&[h, 1]);
    let h3 = hash(&[h, 2]);
    Common {
        warehouse_name,
        warehouse_type,
        region: REGIONS[((h >> 24) % REGIONS.len() as u64) as usize],
        supplier_article: product.vendor_code.clone(),
        nm_id: product.nm_id,
        barcode: product.barcode(cell.size as usize).to_string(),
        category: product.category,
        subject: product.subject_name,
        brand: product.brand,
        tech_size: product.sizes[cell.size as usize].tech_size.clone(),
        income_id: 10_000_000
            + (hash(&[cat.seller_id as u64, 21, u64::from(e.cell)]) % 90_000_000) as i64,
        total_price,
        discount_percent: discount,
        spp,
        price_with_disc,
        finished_price,
        sticker: (100_000_000 + h3 % 900_000_000).to_string(),
        g_number: format!("{:020}", h2 % 10_000_000_000_000_000_000),
        srid: format!("{}.r{:016x}{:016x}.0.0", 10 + h % 89, h2, h3),
    }
}

/// When an order event happened, known before the (much costlier) row is built, so the
/// endpoints filter and page on stamps and only materialise the rows they return.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    pub last_change_us: i64,
    pub date_us: i64,
    event: OrderEvent,
    /// Orders: 1 = cancelled. Sales: 0 = sale, 1 = return.
    kind: u8,
}

/// Orders visible at the simulation's tick, unsorted.
pub(crate) fn order_stamps(
    cfg: &SandboxConfig,
    sim: &Simulation,
    epoch: DateTime<Utc>,
    seller_id: i64,
) -> Vec<Stamp> {
    let clock = Clock::new(cfg, sim, epoch);
    let now = sim.tick();
    sim.orders()
        .iter()
        .map(|e| {
            let f = fate(seller_id, e);
            let ordered = u64::from(e.tick);
            let date_us = clock.at(ordered, e, 0, 0);
            let cancel_us = f
                .cancel_after
                .filter(|d| ordered + d <= now)
                .map(|d| clock.at(ordered + d, e, d, 1));
            Stamp {
                last_change_us: cancel_us.unwrap_or(date_us),
                date_us,
                event: *e,
                kind: u8::from(cancel_us.is_some()),
            }
        })
        .collect()
}

pub(crate) fn order_row(cat: &Catalog, s: &Stamp) -> OrderRow {
    let e = &s.event;
    let f = fate(cat.seller_id, e);
    let c = common(cat, e, f.h);
    let cancelled = s.kind == 1;
    OrderRow {
        date: moscow_naive(from_micros(s.date_us)),
        last_change_date: moscow_naive(from_micros(s.last_change_us)),
        warehouse_name: c.warehouse_name,
        warehouse_type: c.warehouse_type.into(),
        country_name: "Россия".into(),
        oblast_okrug_name: c.region.1.into(),
        region_name: c.region.0.into(),
        supplier_article: c.supplier_article,
        nm_id: c.nm_id,
        barcode: c.barcode,
        category: c.category.into(),
        subject: c.subject.into(),
        brand: c.brand.into(),
        tech_size: c.tech_size,
        income_id: c.income_id,
        is_supply: false,
        is_realization: true,
        total_price: c.total_price,
        discount_percent: c.discount_percent,
        spp: c.spp,
        finished_price: c.finished_price,
        price_with_disc: c.price_with_disc,
        is_cancel: cancelled,
        cancel_date: if cancelled {
            moscow_day_start(from_micros(s.last_change_us))
        } else {
            NO_CANCEL_DATE.into()
        },
        sticker: c.sticker,
        g_number: c.g_number,
        srid: c.srid,
    }
}

/// Sales (`S…`) and returns (`R…`) visible at the simulation's tick, unsorted.
pub(crate) fn sale_stamps(
    cfg: &SandboxConfig,
    sim: &Simulation,
    epoch: DateTime<Utc>,
    seller_id: i64,
) -> Vec<Stamp> {
    let clock = Clock::new(cfg, sim, epoch);
    let now = sim.tick();
    let mut stamps = Vec::new();
    for e in sim.orders() {
        let f = fate(seller_id, e);
        let Some(after) = f.sale_after else { continue };
        let sold = u64::from(e.tick) + after;
        let mut push = |at_tick: u64, kind: u8| {
            if at_tick <= now {
                let us = clock.at(at_tick, e, after, u64::from(kind));
                stamps.push(Stamp {
                    last_change_us: us,
                    date_us: us,
                    event: *e,
                    kind,
                });
            }
        };
        push(sold, 0);
        if f.returned {
            push(sold + 2, 1);
        }
    }
    stamps
}

pub(crate) fn sale_row(cat: &Catalog, s: &Stamp) -> SaleRow {
    let e = &s.event;
    let f = fate(cat.seller_id, e);
    let c = common(cat, e, f.h);
    let sign = if s.kind == 1 { -1.0 } else { 1.0 };
    let for_pay = (c.price_with_disc * 0.75 * 100.0).round() / 100.0;
    let sale_no = hash(&[f.h, 3 + u64::from(s.kind)]) % 10_000_000_000;
    SaleRow {
        date: moscow_naive(from_micros(s.date_us)),
        last_change_date: moscow_naive(from_micros(s.last_change_us)),
        warehouse_name: c.warehouse_name,
        warehouse_type: c.warehouse_type.into(),
        country_name: "Россия".into(),
        oblast_okrug_name: c.region.1.into(),
        region_name: c.region.0.into(),
        supplier_article: c.supplier_article,
        nm_id: c.nm_id,
        barcode: c.barcode,
        category: c.category.into(),
        subject: c.subject.into(),
        brand: c.brand.into(),
        tech_size: c.tech_size,
        income_id: c.income_id,
        is_supply: false,
        is_realization: true,
        total_price: c.total_price,
        discount_percent: c.discount_percent,
        spp: c.spp,
        payment_sale_amount: ((f.h >> 32) % 200) as i64,
        for_pay: sign * for_pay,
        finished_price: sign * c.finished_price,
        price_with_disc: sign * c.price_with_disc,
        sale_id: format!("{}{sale_no:010}", if s.kind == 1 { 'R' } else { 'S' }),
        sticker: c.sticker,
        g_number: c.g_number,
        srid: c.srid,
    }
}

fn sorted(mut stamps: Vec<Stamp>) -> Vec<Stamp> {
    stamps.sort_by_key(|s| s.last_change_us);
    stamps
}

/// Every order visible at `tick`, sorted by `lastChangeDate`. `epoch` is the time of tick 0
/// (`GET /__sandbox/state` reports it for a running sandbox).
pub fn orders(
    seller_id: i64,
    cfg: &SandboxConfig,
    tick: u64,
    epoch: DateTime<Utc>,
) -> Vec<OrderRow> {
    let cat = Catalog::new(seller_id, cfg);
    let sim = Simulation::at(seller_id, cfg, tick);
    sorted(order_stamps(cfg, &sim, epoch, seller_id))
        .iter()
        .map(|s| order_row(&cat, s))
        .collect()
}

/// Every sale and return visible at `tick`, sorted by `lastChangeDate`.
pub fn sales(seller_id: i64, cfg: &SandboxConfig, tick: u64, epoch: DateTime<Utc>) -> Vec<SaleRow> {
    let cat = Catalog::new(seller_id, cfg);
    let sim = Simulation::at(seller_id, cfg, tick);
    sorted(sale_stamps(cfg, &sim, epoch, seller_id))
        .iter()
        .map(|s| sale_row(&cat, s))
        .collect()
}
