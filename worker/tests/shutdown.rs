//! SIGTERM on the worker binary: running syncs finish within the grace period and the
//! process exits 0; a sync still running when the grace runs out goes back to the queue
//! and another worker completes it.

use serde_json::json;
use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::{Session, TEST_CREDENTIALS_KEYS};
use stock_tracker_tests::process::Process;
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{Worker, app_for, connect_token, wait_for_run};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

async fn scene(delay: Duration) -> (MockServer, TestApp, Session, String) {
    let wb = MockServer::start().await;
    wb_fake::mount_slow(&wb, 4, delay).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("term@shop.ru", "Term").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(4))).await;
    let started = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    let run_id = started.body["run_id"].as_str().unwrap().to_string();
    (wb, app, s, run_id)
}

fn start_worker(app: &TestApp, wb: &MockServer, grace_secs: u64) -> Process {
    let env = vec![
        ("DATABASE_URL", app.db.app_url()),
        ("REDIS_URL", stock_tracker_tests::db::redis_url()),
        ("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS.to_string()),
        ("REDIS_KEY_PREFIX", app.redis_prefix.clone()),
        ("WB_BASE_URL", wb.uri()),
        ("WB_SANDBOX", "true".to_string()),
        ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        ("WB_TIMEOUT_MS", "20000".to_string()),
        ("WORKER_SHUTDOWN_GRACE_SECS", grace_secs.to_string()),
        ("LOG_FORMAT", "json".to_string()),
        ("WORKER_METRICS_BIND", "127.0.0.1:0".to_string()),
    ];
    let mut p = Process::start(EXE, &[], &env);
    p.wait_for("worker ready", Duration::from_secs(20));
    p
}

async fn wait_until_running(app: &TestApp, s: &Session, run_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = app
            .get(&format!("/api/v1/sync/runs/{run_id}"), &s.access)
            .await;
        if run.body["status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "never started: {run:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_the_running_sync_finish_then_exits_0() {
    let (_wb, app, s, run_id) = scene(Duration::from_secs(2)).await;
    let mut worker = start_worker(&app, &_wb, 15);
    wait_until_running(&app, &s, &run_id).await;
    worker.signal("TERM");
    let exit = tokio::task::spawn_blocking(move || {
        let status = worker.wait_exit(Duration::from_secs(15));
        (status, worker.seen.clone())
    })
    .await
    .unwrap();
    assert_eq!(exit.0.code(), Some(0), "{:#?}", exit.1);
    let run = app
        .get(&format!("/api/v1/sync/runs/{run_id}"), &s.access)
        .await;
    assert_eq!(
        run.body["status"], "succeeded",
        "the in-flight sync finished: {run:#?}"
    );
}

#[tokio::test]
async fn a_sync_cut_off_by_the_grace_period_is_put_back_and_completed_by_another_worker() {
    let (wb, app, s, run_id) = scene(Duration::from_secs(8)).await;
    let mut worker = start_worker(&app, &wb, 1);
    wait_until_running(&app, &s, &run_id).await;
    let signalled = Instant::now();
    worker.signal("TERM");
    let exit = tokio::task::spawn_blocking(move || worker.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "exited within the bound, not after the 8 s sync"
    );
    use stock_tracker_shared::jobs::{SYNC_QUEUE, queue};
    let job = queue::status_of(&app.db.owner, SYNC_QUEUE, &run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job,
        queue::JobStatus::Pending,
        "the job is back in the queue"
    );

    // WB answers quickly now; the next worker finishes the same run.
    wb.reset().await;
    wb_fake::mount_healthy(&wb, 4).await;
    let other = Worker::start(&app, &wb.uri()).await;
    let run = wait_for_run(&app, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["attempts"], 2);
    other.stop().await;
}
