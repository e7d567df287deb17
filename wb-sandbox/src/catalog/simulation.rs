//! Stock over time. Tick 0 is a seeded starting stock; every later tick applies a seeded
//! batch of simulated orders (drain 1–3 units, never below zero) and occasional restocks.
//! Each tick touches only a few percent of the cells, so replaying from tick 0 costs
//! O(cells + ticks × events) and the server can advance a cached state incrementally.

use crate::SandboxConfig;
use crate::prng::{hash, stream};

const INITIAL: u64 = 10;
const TICK: u64 = 11;
const IN_WAY: u64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub products: u32,
    pub sizes: u32,
    pub wb_warehouses: u32,
    pub seller_warehouses: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Index into [`super::wb_warehouses`].
    Wb(u32),
    /// Index into the seller's warehouses.
    Seller(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub product: u32,
    pub size: u32,
    pub location: Location,
}

impl Dims {
    pub fn of(cfg: &SandboxConfig) -> Self {
        Self {
            products: cfg.products,
            sizes: cfg.sizes_per_product,
            wb_warehouses: super::wb_warehouses(cfg).len() as u32,
            seller_warehouses: cfg.seller_warehouses,
        }
    }

    fn product_sizes(&self) -> usize {
        self.products as usize * self.sizes as usize
    }

    pub fn wb_cells(&self) -> usize {
        self.product_sizes() * self.wb_warehouses as usize
    }

    pub fn cells(&self) -> usize {
        self.wb_cells() + self.product_sizes() * self.seller_warehouses as usize
    }

    pub fn wb_cell(&self, product: u32, size: u32, warehouse: u32) -> usize {
        (product as usize * self.sizes as usize + size as usize) * self.wb_warehouses as usize
            + warehouse as usize
    }

    pub fn seller_cell(&self, warehouse: u32, product: u32, size: u32) -> usize {
        self.wb_cells()
            + warehouse as usize * self.product_sizes()
            + product as usize * self.sizes as usize
            + size as usize
    }

    pub fn cell(&self, index: usize) -> Cell {
        let sizes = self.sizes as usize;
        if index < self.wb_cells() {
            let w = self.wb_warehouses as usize;
            Cell {
                product: (index / (sizes * w)) as u32,
                size: ((index / w) % sizes) as u32,
                location: Location::Wb((index % w) as u32),
            }
        } else {
            let j = index - self.wb_cells();
            Cell {
                product: ((j / sizes) % self.products as usize) as u32,
                size: (j % sizes) as u32,
                location: Location::Seller((j / self.product_sizes()) as u32),
            }
        }
    }

    /// Simulated order events per tick: about 2.5 % of the cells, at least three.
    pub fn events_per_tick(&self) -> u32 {
        ((self.cells() / 40) as u32).max(3)
    }
}

/// One unit ordered by a simulated buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderEvent {
    pub tick: u32,
    /// Index of the event within its tick.
    pub event: u32,
    /// Unit number within the event (an event drains 1–3 units).
    pub unit: u8,
    pub cell: u32,
}

#[derive(Debug, Clone)]
pub struct Simulation {
    seller_id: i64,
    dims: Dims,
    tick: u64,
    qty: Vec<u32>,
    orders: Vec<OrderEvent>,
}

impl Simulation {
    /// State at tick 0.
    pub fn new(seller_id: i64, cfg: &SandboxConfig) -> Self {
        let dims = Dims::of(cfg);
        let qty = (0..dims.cells())
            .map(|cell| initial_quantity(seller_id, &dims, cell))
            .collect();
        Self {
            seller_id,
            dims,
            tick: 0,
            qty,
            orders: Vec::new(),
        }
    }

    pub fn at(seller_id: i64, cfg: &SandboxConfig, tick: u64) -> Self {
        let mut sim = Self::new(seller_id, cfg);
        sim.advance_to(tick);
        sim
    }

    pub fn tick(&self) -> u64 {
        self.tick
    }

    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Replays ticks up to `tick`; going backwards is not possible (and not needed: the
    /// simulation clock only moves forward).
    pub fn advance_to(&mut self, tick: u64) {
        while self.tick < tick {
            self.tick += 1;
            self.apply_tick(self.tick);
        }
    }

    fn apply_tick(&mut self, tick: u64) {
        let cells = self.qty.len() as u64;
        if cells == 0 {
            return;
        }
        let mut r = stream(self.seller_id, TICK, tick);
        for event in 0..self.dims.events_per_tick() {
            let cell = r.below(cells) as usize;
            if r.chance(4) {
                self.qty[cell] += r.range(10, 50) as u32;
            } else {
                let take = (r.range(1, 3) as u32).min(self.qty[cell]);
                self.qty[cell] -= take;
                for unit in 0..take {
                    self.orders.push(OrderEvent {
                        tick: tick as u32,
                        event,
                        unit: unit as u8,
                        cell: cell as u32,
                    });
                }
            }
        }
    }

    pub fn quantity(&self, cell: usize) -> u32 {
        self.qty[cell]
    }

    pub fn quantities(&self) -> &[u32] {
        &self.qty
    }

    /// (inWayToClient, inWayFromClient): small numbers that drift every few ticks.
    pub fn in_way(&self, cell: usize) -> (u32, u32) {
        let h = hash(&[self.seller_id as u64, IN_WAY, cell as u64, self.tick / 5]);
        ((h % 7) as u32, ((h >> 8) % 3) as u32)
    }

    /// All units ordered so far, in (tick, event, unit) order.
    pub fn orders(&self) -> &[OrderEvent] {
        &self.orders
    }
}

/// Starting stock: some cells empty so "in stock" filters mean something; the aggregate WB
/// warehouse holds more than named ones.
fn initial_quantity(seller_id: i64, dims: &Dims, cell: usize) -> u32 {
    let h = hash(&[seller_id as u64, INITIAL, cell as u64]);
    let (zero_percent, max) = match dims.cell(cell).location {
        Location::Wb(0) => (20, 300),
        Location::Wb(_) => (30, 80),
        Location::Seller(_) => (25, 50),
    };
    if h % 100 < zero_percent {
        0
    } else {
        1 + ((h >> 16) % max) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_index_round_trip() {
        let cfg = SandboxConfig {
            products: 5,
            sizes_per_product: 3,
            wb_warehouses: 4,
            seller_warehouses: 2,
            ..SandboxConfig::default()
        };
        let d = Dims::of(&cfg);
        assert_eq!(d.cells(), 5 * 3 * 4 + 2 * 5 * 3);
        for i in 0..d.cells() {
            let c = d.cell(i);
            let back = match c.location {
                Location::Wb(w) => d.wb_cell(c.product, c.size, w),
                Location::Seller(h) => d.seller_cell(h, c.product, c.size),
            };
            assert_eq!(back, i);
        }
    }

    #[test]
    fn incremental_equals_replay() {
        let cfg = SandboxConfig::default();
        let mut a = Simulation::new(3, &cfg);
        a.advance_to(4);
        a.advance_to(9);
        let b = Simulation::at(3, &cfg, 9);
        assert_eq!(a.quantities(), b.quantities());
        assert_eq!(a.orders(), b.orders());
        assert!(!b.orders().is_empty());
    }
}
