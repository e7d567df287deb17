//! Shared server state: the simulation clock, per-seller cached catalogs and simulations,
//! rate-limit buckets and `warehouse_remains` tasks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::SandboxConfig;
use crate::catalog::{Catalog, Simulation};
use crate::rate_limit::RateLimiter;
use crate::service_auth::ServiceAuth;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SandboxConfig,
    started: Instant,
    epoch: DateTime<Utc>,
    sellers: Mutex<HashMap<i64, Arc<SellerState>>>,
    limiter: RateLimiter,
    tasks: Mutex<HashMap<Uuid, RemainsTask>>,
    /// Authenticated requests per (seller, endpoint), for tests of request economy.
    requests: Mutex<HashMap<i64, BTreeMap<&'static str, u64>>>,
    service_auth: ServiceAuth,
}

/// Generating a catalog is the expensive part, so it is built once per seller; the
/// simulation is advanced in place as ticks pass.
pub struct SellerState {
    /// Replaced as a whole when a test edits cards (`/__sandbox/cards`).
    catalog: RwLock<Arc<Catalog>>,
    manual_ticks: Mutex<u64>,
    sim: Mutex<Simulation>,
}

impl SellerState {
    fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().expect("catalog lock").clone()
    }
}

pub struct RemainsTask {
    pub seller_id: i64,
    pub created: Instant,
    pub status_polls: u32,
    /// The report is computed when the task is created, like a snapshot WB would take;
    /// `None` means it had no rows (download answers 204).
    pub body: Option<axum::body::Bytes>,
}

impl AppState {
    pub fn new(cfg: SandboxConfig) -> Self {
        Self::with_service_auth(cfg, ServiceAuth::default())
    }

    pub fn with_service_auth(cfg: SandboxConfig, service_auth: ServiceAuth) -> Self {
        let limiter = RateLimiter::new(cfg.rate_limit_scale);
        Self {
            inner: Arc::new(Inner {
                cfg,
                started: Instant::now(),
                epoch: Utc::now().trunc_subsecs(0),
                sellers: Mutex::new(HashMap::new()),
                limiter,
                tasks: Mutex::new(HashMap::new()),
                requests: Mutex::new(HashMap::new()),
                service_auth,
            }),
        }
    }

    pub fn cfg(&self) -> &SandboxConfig {
        &self.inner.cfg
    }

    /// Wall-clock time of tick 0 (order and sale timestamps count from here).
    pub fn epoch(&self) -> DateTime<Utc> {
        self.inner.epoch
    }

    /// The secret check, the 402 switch and the request log (`service_auth.rs`).
    pub fn service_auth(&self) -> &ServiceAuth {
        &self.inner.service_auth
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    fn auto_ticks(&self) -> u64 {
        let every = self.inner.cfg.drain_every;
        if every.is_zero() {
            return 0;
        }
        (self.inner.started.elapsed().as_nanos() / every.as_nanos()) as u64
    }

    pub fn seller(&self, seller_id: i64) -> Arc<SellerState> {
        if let Some(s) = self
            .inner
            .sellers
            .lock()
            .expect("sellers lock")
            .get(&seller_id)
        {
            return s.clone();
        }
        // Built outside the map lock so a large catalog does not stall other sellers.
        let fresh = Arc::new(SellerState {
            catalog: RwLock::new(Arc::new(Catalog::new(seller_id, &self.inner.cfg))),
            manual_ticks: Mutex::new(0),
            sim: Mutex::new(Simulation::new(seller_id, &self.inner.cfg)),
        });
        self.inner
            .sellers
            .lock()
            .expect("sellers lock")
            .entry(seller_id)
            .or_insert(fresh)
            .clone()
    }

    /// The seller's tick-independent data.
    pub fn catalog(&self, seller_id: i64) -> Arc<Catalog> {
        self.seller(seller_id).catalog()
    }

    /// Replaces the seller's catalog with `f`'s edit of it; returns what `f` returned.
    pub fn edit_catalog<R>(&self, seller_id: i64, f: impl FnOnce(&Catalog) -> (Catalog, R)) -> R {
        let seller = self.seller(seller_id);
        let mut slot = seller.catalog.write().expect("catalog lock");
        let (edited, out) = f(&slot);
        *slot = Arc::new(edited);
        out
    }

    /// Counts one authenticated request of a seller to an endpoint.
    pub fn count_request(&self, seller_id: i64, endpoint: &'static str) {
        let mut requests = self.inner.requests.lock().expect("requests lock");
        *requests
            .entry(seller_id)
            .or_default()
            .entry(endpoint)
            .or_default() += 1;
    }

    /// A seller's requests by endpoint since the start or the last reset.
    pub fn requests(&self, seller_id: i64) -> BTreeMap<&'static str, u64> {
        let requests = self.inner.requests.lock().expect("requests lock");
        requests.get(&seller_id).cloned().unwrap_or_default()
    }

    pub fn reset_requests(&self, seller_id: i64) {
        self.inner
            .requests
            .lock()
            .expect("requests lock")
            .remove(&seller_id);
    }

    pub fn manual_ticks(&self, seller_id: i64) -> u64 {
        *self
            .seller(seller_id)
            .manual_ticks
            .lock()
            .expect("ticks lock")
    }

    /// Current simulation tick of a seller: elapsed `drain_every` periods plus manual advances.
    pub fn tick(&self, seller_id: i64) -> u64 {
        self.auto_ticks() + self.manual_ticks(seller_id)
    }

    pub fn advance(&self, seller_id: i64, ticks: u64) -> u64 {
        let seller = self.seller(seller_id);
        let mut manual = seller.manual_ticks.lock().expect("ticks lock");
        *manual = manual.saturating_add(ticks);
        self.auto_ticks() + *manual
    }

    /// Runs `f` on the seller's catalog and simulation advanced to the current tick.
    pub fn with_sim<R>(&self, seller_id: i64, f: impl FnOnce(&Catalog, &Simulation) -> R) -> R {
        let seller = self.seller(seller_id);
        let tick = self.tick(seller_id);
        let mut sim = seller.sim.lock().expect("simulation lock");
        sim.advance_to(tick);
        f(&seller.catalog(), &sim)
    }

    pub fn insert_task(&self, id: Uuid, task: RemainsTask) {
        let mut tasks = self.inner.tasks.lock().expect("tasks lock");
        // Reports are only useful for a short while; dropping old ones bounds memory in a
        // long-running demo sandbox.
        tasks.retain(|_, t| t.created.elapsed() < Duration::from_secs(3600));
        tasks.insert(id, task);
    }

    pub fn with_task<R>(&self, id: &Uuid, f: impl FnOnce(Option<&mut RemainsTask>) -> R) -> R {
        let mut tasks = self.inner.tasks.lock().expect("tasks lock");
        f(tasks.get_mut(id))
    }
}
