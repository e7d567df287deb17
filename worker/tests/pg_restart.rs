//! PostgreSQL restarted under a running worker binary (on a throwaway cluster of its own,
//! never the shared server): the worker reconnects by itself, the sync that was running
//! completes with the right data, the process does not exit, and later syncs complete too.

use serde_json::Value;
use std::time::{Duration, Instant};
use stock_tracker_tests::http::{Session, TEST_CREDENTIALS_KEYS};
use stock_tracker_tests::pg_cluster::{ClusterApi, PgCluster};
use stock_tracker_tests::process::Process;
use stock_tracker_tests::wb_fake;
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

fn start_worker(cluster: &PgCluster, api: &ClusterApi, wb: &MockServer) -> Process {
    let env = vec![
        ("DATABASE_URL", cluster.app_url()),
        ("REDIS_URL", stock_tracker_tests::db::redis_url()),
        ("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS.to_string()),
        ("REDIS_KEY_PREFIX", api.redis_prefix.clone()),
        ("WB_BASE_URL", wb.uri()),
        ("WB_SANDBOX", "true".to_string()),
        ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        ("WORKER_HEARTBEAT_SECS", "1".to_string()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_string()),
        ("WORKER_RETRY_BASE_SECS", "1".to_string()),
        ("WORKER_METRICS_BIND", "127.0.0.1:0".to_string()),
        ("LOG_FORMAT", "json".to_string()),
    ];
    let mut p = Process::start(EXE, &[], &env);
    p.wait_for("worker ready", Duration::from_secs(20));
    p
}

async fn cards_requests(wb: &MockServer) -> usize {
    wb.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/content/v2/get/cards/list")
        .count()
}

async fn stocks(cluster: &PgCluster) -> Vec<(i64, i64)> {
    sqlx::query_as("select chrt_id, quantity from stocks")
        .fetch_all(&cluster.owner_pool())
        .await
        .unwrap()
}

/// The worker that ran the run's last attempt (`sync-<pid>-<uuid>`).
async fn worker_of(cluster: &PgCluster, run_id: &str) -> String {
    sqlx::query_scalar("select worker from sync_runs where id = $1::uuid")
        .bind(run_id)
        .fetch_one(&cluster.owner_pool())
        .await
        .unwrap()
}

async fn finished(api: &ClusterApi, s: &Session, run_id: &str) -> Value {
    api.wait_for_run(s, run_id, Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reconnects_after_a_postgres_restart_and_its_syncs_complete() {
    let cluster = PgCluster::start().await;
    let wb = MockServer::start().await;
    // The catalog takes three seconds: the restart happens while the sync waits on WB.
    wb_fake::mount_slow(&wb, 4, Duration::from_secs(3)).await;
    let api = cluster.api(&wb.uri()).await;
    let s = api.register("restart@shop.ru", "Restart").await;
    api.connect_token(&s, &mint_token(&TokenOptions::demo(5)))
        .await;
    let mut worker = start_worker(&cluster, &api, &wb);

    let run_id = api.start_sync(&s).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cards_requests(&wb).await == 0 {
        assert!(Instant::now() < deadline, "the sync never reached WB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(api.run(&s, &run_id).await["status"], "running");
    cluster.restart().await;

    let run = finished(&api, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(stocks(&cluster).await, vec![(wb_fake::CHRT_ID, 4)]);
    let this_process = format!("sync-{}-", worker.pid());
    assert!(
        worker_of(&cluster, &run_id)
            .await
            .starts_with(&this_process)
    );

    // Later syncs complete too, on the same worker process.
    wb.reset().await;
    wb_fake::mount_healthy(&wb, 9).await;
    let next = api.start_sync(&s).await;
    let run = finished(&api, &s, &next).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert!(worker_of(&cluster, &next).await.starts_with(&this_process));
    assert_eq!(stocks(&cluster).await, vec![(wb_fake::CHRT_ID, 9)]);

    worker.signal("TERM");
    let (status, seen) = tokio::task::spawn_blocking(move || {
        let status = worker.wait_exit(Duration::from_secs(15));
        (status, worker.seen.clone())
    })
    .await
    .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the worker was still running and stopped cleanly: {}",
        seen.join("\n")
    );
}

/// PostgreSQL gone for longer than the worker's pool waits for a connection: apalis gives
/// up on its backend, and the worker must carry on by itself once PostgreSQL is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_rides_out_a_postgres_outage_and_finishes_the_interrupted_sync() {
    let cluster = PgCluster::start().await;
    let wb = MockServer::start().await;
    wb_fake::mount_slow(&wb, 4, Duration::from_millis(1500)).await;
    let api = cluster.api(&wb.uri()).await;
    let s = api.register("outage@shop.ru", "Outage").await;
    api.connect_token(&s, &mint_token(&TokenOptions::demo(5)))
        .await;
    let worker = start_worker(&cluster, &api, &wb);
    let pid = worker.pid();

    let run_id = api.start_sync(&s).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cards_requests(&wb).await == 0 {
        assert!(Instant::now() < deadline, "the sync never reached WB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop().await;
    // Down until the worker has noticed (apalis's heartbeat or poll failed and its
    // worker stopped; the process must not) and has found PostgreSQL still unreachable.
    let mut worker = tokio::task::spawn_blocking(move || {
        let mut worker = worker;
        worker.wait_for("worker lost the queue", Duration::from_secs(20));
        worker.wait_for("waiting for PostgreSQL", Duration::from_secs(20));
        worker
    })
    .await
    .unwrap();
    cluster.start_again().await;

    let run = finished(&api, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(stocks(&cluster).await, vec![(wb_fake::CHRT_ID, 4)]);
    let history: i64 = sqlx::query_scalar("select count(*) from stock_history")
        .fetch_one(&cluster.owner_pool())
        .await
        .unwrap();
    assert_eq!(history, 1, "the interrupted attempt wrote nothing");
    let this_process = format!("sync-{pid}-");
    assert!(
        worker_of(&cluster, &run_id)
            .await
            .starts_with(&this_process)
    );

    wb.reset().await;
    wb_fake::mount_healthy(&wb, 9).await;
    let next = api.start_sync(&s).await;
    let run = finished(&api, &s, &next).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["attempts"], 1);
    assert!(worker_of(&cluster, &next).await.starts_with(&this_process));
    assert_eq!(stocks(&cluster).await, vec![(wb_fake::CHRT_ID, 9)]);
    // Nothing stays held, by the worker that gave up or its successor (apalis writes
    // results in batches, so give it a moment).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let held = stock_tracker_shared::jobs::queue::count_claimed(&cluster.owner_pool())
            .await
            .unwrap();
        if held == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{held} job(s) still held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    worker.signal("TERM");
    let (status, seen) = tokio::task::spawn_blocking(move || {
        let status = worker.wait_exit(Duration::from_secs(15));
        (status, worker.seen.clone())
    })
    .await
    .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the worker was still running and stopped cleanly: {}",
        seen.join("\n")
    );
}
