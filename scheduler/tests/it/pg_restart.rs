//! PostgreSQL restarted, or gone for a while, under a running scheduler binary (on a
//! throwaway cluster of its own, never the shared server): the process stays up and its
//! ticks resume by themselves, queueing due tenants again.

use std::time::{Duration, Instant};
use stock_tracker_shared::jobs::{SYNC_QUEUE, queue};
use stock_tracker_tests::pg_cluster::PgCluster;
use stock_tracker_tests::process::{Process, base_env_for, free_port, sample, scrape};
use stock_tracker_tests::tenants::with_active_credentials;
use uuid::Uuid;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-scheduler");

struct Scheduler {
    process: Process,
    metrics_port: u16,
}

fn start_scheduler(cluster: &PgCluster) -> Scheduler {
    let metrics_port = free_port();
    let env = base_env_for(cluster.jobs_url())
        .remove("WORKER_METRICS_BIND")
        .set(
            "SCHEDULER_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        )
        // A tick every second.
        .set("SCHEDULER_CRON", "* * * * * *");
    let mut process = Process::start(EXE, &[], &env);
    process.wait_for("scheduler ready", Duration::from_secs(20));
    Scheduler {
        process,
        metrics_port,
    }
}

impl Scheduler {
    fn metrics(&self) -> String {
        scrape(self.metrics_port)
    }

    /// A counter's value (0 until it first counts).
    fn counter(&self, series: &str) -> f64 {
        sample(&self.metrics(), series).unwrap_or(0.0)
    }

    /// Waits until a counter exceeds `than` (it is bumped just after the tick's commit).
    async fn wait_above(&self, series: &str, than: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.counter(series) <= than {
            assert!(Instant::now() < deadline, "{series} stayed at {than}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.process.stop().await;
    }
}

const TICKS_OK: &str = r#"stock_tracker_scheduler_ticks_total{status="ok"}"#;
const TICKS_ERROR: &str = r#"stock_tracker_scheduler_ticks_total{status="error"}"#;
const QUEUED: &str = "stock_tracker_scheduler_queued_syncs_total";

/// Waits until each of `tenants` has a scheduled run with its job on the queue.
async fn wait_until_queued(cluster: &PgCluster, tenants: &[Uuid]) {
    let owner = cluster.owner_pool();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = queue::keys(&owner, SYNC_QUEUE).await.unwrap();
        let queued: i64 = sqlx::query_scalar(
            "select count(*) from sync_runs r
              where r.trigger = 'schedule' and r.tenant_id = any($1) and r.id::text = any($2)",
        )
        .bind(tenants)
        .bind(&jobs)
        .fetch_one(&owner)
        .await
        .unwrap();
        if queued == tenants.len() as i64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{queued} of {} tenants queued",
            tenants.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_ticks_resume_after_a_postgres_restart() {
    let cluster = PgCluster::start().await;
    let before = with_active_credentials(&cluster.owner_pool(), 3).await;
    let scheduler = start_scheduler(&cluster);
    wait_until_queued(&cluster, &before).await;
    scheduler.wait_above(QUEUED, 2.0).await;

    cluster.restart().await;
    let ok_after_restart = scheduler.counter(TICKS_OK);
    // Tenants that become due after the restart are queued by later ticks.
    let after = with_active_credentials(&cluster.owner_pool(), 2).await;
    wait_until_queued(&cluster, &after).await;
    scheduler.wait_above(TICKS_OK, ok_after_restart).await;
    scheduler.wait_above(QUEUED, 4.0).await;
    assert_eq!(scheduler.counter(QUEUED), 5.0, "each tenant queued once");
    scheduler.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_ticks_resume_after_a_postgres_outage() {
    let cluster = PgCluster::start().await;
    let before = with_active_credentials(&cluster.owner_pool(), 3).await;
    let mut scheduler = start_scheduler(&cluster);
    wait_until_queued(&cluster, &before).await;

    cluster.stop().await;
    // Down until a tick has failed on it (and been counted as such).
    let mut process = scheduler.process;
    let process = tokio::task::spawn_blocking(move || {
        process.wait_for("scheduler tick failed", Duration::from_secs(30));
        process
    })
    .await
    .unwrap();
    scheduler.process = process;
    assert!(
        scheduler.counter(TICKS_ERROR) >= 1.0,
        "{}",
        scheduler.metrics()
    );
    cluster.start_again().await;

    let ok_after_outage = scheduler.counter(TICKS_OK);
    let after = with_active_credentials(&cluster.owner_pool(), 2).await;
    wait_until_queued(&cluster, &after).await;
    scheduler.wait_above(TICKS_OK, ok_after_outage).await;
    scheduler.wait_above(QUEUED, 4.0).await;
    assert_eq!(scheduler.counter(QUEUED), 5.0, "each tenant queued once");
    scheduler.stop().await;
}
