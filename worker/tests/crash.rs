//! A worker killed with SIGKILL in the middle of a sync, again and again: the job is
//! picked up again after the heartbeat timeout, completes once a worker survives, no job
//! is left running, and the data is exactly what a clean sync writes.

use serde_json::json;
use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::{Session, TEST_CREDENTIALS_KEYS};
use stock_tracker_tests::process::Process;
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token, wait_for_run};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

fn start_worker(app: &TestApp, wb: &MockServer) -> Process {
    let env = vec![
        ("DATABASE_URL", app.db.app_url()),
        ("REDIS_URL", stock_tracker_tests::db::redis_url()),
        ("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS.to_string()),
        ("REDIS_KEY_PREFIX", app.redis_prefix.clone()),
        ("WB_BASE_URL", wb.uri()),
        ("WB_SANDBOX", "true".to_string()),
        ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        // A dead worker is noticed after three missed one-second heartbeats.
        ("WORKER_HEARTBEAT_SECS", "1".to_string()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_string()),
        ("WORKER_METRICS_BIND", "127.0.0.1:0".to_string()),
        ("LOG_FORMAT", "json".to_string()),
    ];
    let mut p = Process::start(EXE, &[], &env);
    p.wait_for("worker ready", Duration::from_secs(20));
    p
}

async fn attempts(app: &TestApp, s: &Session, run_id: &str) -> (String, i64) {
    let run = app
        .get(&format!("/api/v1/sync/runs/{run_id}"), &s.access)
        .await;
    (
        run.body["status"].as_str().unwrap().to_string(),
        run.body["attempts"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn syncs_survive_workers_killed_mid_run() {
    let wb = MockServer::start().await;
    // Every attempt spends a second and a half fetching, so there is time to kill it.
    wb_fake::mount_slow(&wb, 4, Duration::from_millis(1500)).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("crash@shop.ru", "Crash").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(8))).await;
    let started = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    let run_id = started.body["run_id"].as_str().unwrap().to_string();

    for kill in 1..=3i64 {
        let mut worker = start_worker(&app, &wb);
        // Wait until this worker has started its attempt, then kill it at a moment
        // somewhere inside the fetch.
        let deadline = Instant::now() + Duration::from_secs(30);
        while attempts(&app, &s, &run_id).await.1 < kill {
            assert!(Instant::now() < deadline, "attempt {kill} never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let jitter = rand::random::<u64>() % 1200;
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        worker.signal("KILL");
        let _ =
            tokio::task::spawn_blocking(move || worker.wait_exit(Duration::from_secs(10))).await;
        assert_eq!(
            attempts(&app, &s, &run_id).await.0,
            "running",
            "killed mid-run"
        );
    }

    let mut survivor = start_worker(&app, &wb);
    let run = wait_for_run(&app, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        run["attempts"], 4,
        "three killed attempts and the one that finished"
    );

    // Nothing is left running, and the data is what one clean sync writes: one row.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let running = stock_tracker_shared::jobs::queue::count_claimed(&app.db.owner)
            .await
            .unwrap();
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{running} job(s) still held");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as("select chrt_id, quantity from stocks")
        .fetch_all(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(rows, vec![(wb_fake::CHRT_ID, 4)]);
    let history: i64 = sqlx::query_scalar("select count(*) from stock_history")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(history, 1, "killed attempts wrote nothing");
    survivor.signal("TERM");
    let _ = tokio::task::spawn_blocking(move || survivor.wait_exit(Duration::from_secs(10))).await;
}
