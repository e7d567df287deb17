//! A worker killed with SIGKILL in the middle of a sync, again and again: the job is
//! picked up again after the heartbeat timeout, completes once a worker survives, no job
//! is left running, and the data is exactly what a clean sync writes.

use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::process::{Process, start_worker, worker_env};
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{
    app_for, connect_token, run, start_sync, wait_for_run, wait_until_no_job_held,
};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

fn start(app: &TestApp, wb: &MockServer) -> Process {
    start_worker(
        EXE,
        &worker_env(app.db.jobs_url(), &app.redis_prefix, &wb.uri()).quick_failover(),
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
    let run_id = start_sync(&app, &s).await;

    for kill in 1..=3i64 {
        let worker = start(&app, &wb);
        // Wait until this worker has started its attempt, then kill it at a moment
        // somewhere inside the fetch.
        let deadline = Instant::now() + Duration::from_secs(30);
        while run(&app, &s, &run_id).await["attempts"].as_i64().unwrap() < kill {
            assert!(Instant::now() < deadline, "attempt {kill} never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let jitter = rand::random::<u64>() % 1200;
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        worker.signal("KILL");
        worker.exit(Duration::from_secs(10)).await;
        assert_eq!(
            run(&app, &s, &run_id).await["status"],
            "running",
            "killed mid-run"
        );
    }

    let survivor = start(&app, &wb);
    let run = wait_for_run(&app, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        run["attempts"], 4,
        "three killed attempts and the one that finished"
    );

    // Nothing is left running, and the data is what one clean sync writes: one row.
    wait_until_no_job_held(&app.db.owner).await;
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
    survivor.stop().await;
}
