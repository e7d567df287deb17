//! SIGTERM on the worker binary: running syncs finish within the grace period and the
//! process exits 0; a sync still running when the grace runs out goes back to the queue
//! and another worker completes it.

use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::Session;
use stock_tracker_tests::process::{Process, start_worker, worker_env};
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{
    Worker, app_for, connect_token, start_sync, wait_for_run, wait_until_running,
};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

async fn scene(delay: Duration) -> (MockServer, TestApp, Session, String) {
    let wb = MockServer::start().await;
    wb_fake::mount_slow(&wb, 4, delay).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("term@shop.ru", "Term").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(4))).await;
    let run_id = start_sync(&app, &s).await;
    (wb, app, s, run_id)
}

fn start(app: &TestApp, wb: &MockServer, grace_secs: u64) -> Process {
    let env = worker_env(app.db.jobs_url(), &app.redis_prefix, &wb.uri())
        .set("WB_TIMEOUT_MS", "20000")
        .set("WORKER_SHUTDOWN_GRACE_SECS", grace_secs.to_string());
    start_worker(EXE, &env)
}

#[tokio::test]
async fn sigterm_lets_the_running_sync_finish_then_exits_0() {
    let (_wb, app, s, run_id) = scene(Duration::from_secs(2)).await;
    let worker = start(&app, &_wb, 15);
    wait_until_running(&app, &s, &run_id).await;
    worker.stop().await;
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
    let worker = start(&app, &wb, 1);
    wait_until_running(&app, &s, &run_id).await;
    let signalled = Instant::now();
    worker.signal("TERM");
    let (exit, seen) = worker.exit(Duration::from_secs(10)).await;
    assert_eq!(exit.code(), Some(0), "{seen:#?}");
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
