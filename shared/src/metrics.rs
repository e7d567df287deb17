//! Prometheus metrics of the background binaries and the small endpoint that serves them
//! (the api serves its own through its router).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// succeeded, failed, dead_lettered, already_done, error (attempt broke off)
    pub outcome: String,
    /// The run's error code, or "" on success.
    pub error_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// Sync job metrics, recorded by the worker.
#[derive(Clone)]
pub struct SyncMetrics {
    pub runs: Family<OutcomeLabels, Counter>,
    pub duration: Histogram,
    pub rows: Counter,
    /// WB requests per sync attempt that reached WB.
    pub wb_requests: Histogram,
    pub queue: Family<StatusLabels, Gauge>,
    /// Jobs running longer than the stuck bound.
    pub stuck: Gauge,
}

impl SyncMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            runs: Family::default(),
            // 50 ms to ~7 min.
            duration: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            rows: Counter::default(),
            // 1 to 2048: an unchanged seller costs 1 to 3, a daily full listing of a large
            // catalog hundreds.
            wb_requests: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            queue: Family::default(),
            stuck: Gauge::default(),
        };
        registry.register(
            "sync_runs",
            "Sync attempts by outcome and error code",
            m.runs.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Duration of sync attempts",
            m.duration.clone(),
        );
        registry.register(
            "sync_stock_rows",
            "Stock rows written by successful syncs",
            m.rows.clone(),
        );
        registry.register(
            "sync_wb_requests",
            "WB requests per sync attempt (by method in wb_requests_total; per tenant and day in sync_runs, see docs/OPERATIONS.md)",
            m.wb_requests.clone(),
        );
        registry.register(
            "queue_jobs",
            "Sync queue entries by status",
            m.queue.clone(),
        );
        registry.register(
            "queue_stuck_jobs",
            "Sync jobs running longer than the stuck bound",
            m.stuck.clone(),
        );
        m
    }
}

/// Scheduler tick metrics.
#[derive(Clone)]
pub struct TickMetrics {
    pub ticks: Family<StatusLabels, Counter>,
    pub queued: Counter,
    pub duration: Histogram,
    /// Tenants whose syncs run on schedule (a working token and a subscription that allows it).
    pub tenants_active: Gauge,
    /// Maintenance jobs (reconciliation, retention, token warnings) this replica queued.
    pub maintenance_queued: Counter,
    /// 1 while syncing is paused for every tenant because WB answered 402.
    pub wb_syncs_paused: Gauge,
}

impl TickMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            ticks: Family::default(),
            queued: Counter::default(),
            // 1 ms to ~16 s.
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            tenants_active: Gauge::default(),
            maintenance_queued: Counter::default(),
            wb_syncs_paused: Gauge::default(),
        };
        registry.register(
            "wb_syncs_paused",
            "1 while syncing is paused for every tenant because Wildberries answered 402 (our service balance is empty); an operator resumes it",
            m.wb_syncs_paused.clone(),
        );
        registry.register(
            "tenants_active",
            "Tenants whose syncs run on schedule: an active WB token and a subscription that allows syncing",
            m.tenants_active.clone(),
        );
        registry.register(
            "scheduler_queued_maintenance",
            "Maintenance jobs queued by the scheduler (each once per period)",
            m.maintenance_queued.clone(),
        );
        registry.register(
            "scheduler_ticks",
            "Scheduler ticks by result (ok, skipped: another replica ticked, paused: WB wants payment, error)",
            m.ticks.clone(),
        );
        registry.register(
            "scheduler_queued_syncs",
            "Syncs queued by the scheduler",
            m.queued.clone(),
        );
        registry.register(
            "scheduler_tick_duration_seconds",
            "Time one tick takes to decide and queue the due syncs",
            m.duration.clone(),
        );
        m
    }

    pub fn tick(&self, status: &str) {
        self.ticks
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MaintenanceLabels {
    /// reconcile, retention, token_expiry
    pub kind: String,
    /// succeeded, dead_lettered, already_done, error (attempt broke off)
    pub outcome: String,
}

/// Maintenance job metrics, recorded by the worker.
#[derive(Clone)]
pub struct MaintenanceMetrics {
    pub jobs: Family<MaintenanceLabels, Counter>,
    /// Daily billing reconciliations by result (ok, error: a subscription could not be read).
    pub reconciliations: Family<StatusLabels, Counter>,
}

impl MaintenanceMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            jobs: Family::default(),
            reconciliations: Family::default(),
        };
        registry.register(
            "maintenance_jobs",
            "Maintenance job attempts by kind and outcome",
            m.jobs.clone(),
        );
        registry.register(
            "billing_reconciliations",
            "Daily Stripe reconciliations by result (ok, error)",
            m.reconciliations.clone(),
        );
        m
    }

    pub fn job(&self, kind: &str, outcome: &str) {
        self.jobs
            .get_or_create(&MaintenanceLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn reconciliation(&self, status: &str) {
        self.reconciliations
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
    }
}

/// Serves `GET /metrics` (any path, in fact) as OpenMetrics text. Deliberately tiny: the
/// background binaries have no HTTP router, and Prometheus needs nothing more. Bounded:
/// at most [`MAX_SCRAPES`] connections at once, each given [`SCRAPE_TIMEOUT`]; they are
/// aborted when the future is dropped.
pub async fn serve(bind: SocketAddr, registry: Arc<Registry>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(%bind, "metrics endpoint listening");
    let mut scrapes = tokio::task::JoinSet::new();
    loop {
        let (mut socket, _) = listener.accept().await?;
        while scrapes.try_join_next().is_some() {}
        if scrapes.len() >= MAX_SCRAPES {
            // Too many slow clients: this one is turned away (dropped) rather than queued.
            continue;
        }
        let registry = registry.clone();
        scrapes.spawn(async move {
            let _ = tokio::time::timeout(SCRAPE_TIMEOUT, async {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let mut body = String::new();
                let (status, body) =
                    match prometheus_client::encoding::text::encode(&mut body, &registry) {
                        Ok(()) => ("200 OK", body),
                        Err(_) => ("500 Internal Server Error", String::new()),
                    };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            })
            .await;
        });
    }
}

/// Scrapes served at once by [`serve`].
pub const MAX_SCRAPES: usize = 8;
/// How long one scrape may take before its connection is closed.
pub const SCRAPE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves the metrics endpoint in a task; the task is aborted when the returned guard is
/// dropped (the binary shutting down), so it never outlives its owner.
pub fn spawn_server(bind: SocketAddr, registry: Arc<Registry>) -> crate::service::TaskGuard {
    crate::service::TaskGuard::spawn(async move {
        if let Err(e) = serve(bind, registry).await {
            tracing::error!(error = %e, %bind, "metrics endpoint failed");
        }
    })
}
