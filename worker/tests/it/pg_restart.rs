//! PostgreSQL restarted under a running worker binary (on a throwaway cluster of its own,
//! never the shared server): the worker reconnects by itself, the sync that was running
//! completes with the right data, the process does not exit, and later syncs complete too.

use std::time::{Duration, Instant};
use stock_tracker_tests::http::Api;
use stock_tracker_tests::pg_cluster::PgCluster;
use stock_tracker_tests::process::{Process, start_worker, worker_env};
use stock_tracker_tests::wb_fake::{self, cards_requests};
use stock_tracker_tests::world::{
    connect_token, run, start_sync, wait_for_run, wait_until_no_job_held,
};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");

fn start(cluster: &PgCluster, api: &Api, wb: &MockServer) -> Process {
    let env = worker_env(cluster.jobs_url(), &api.redis_prefix, &wb.uri())
        .quick_failover()
        .set("WORKER_RETRY_BASE_SECS", "1");
    start_worker(EXE, &env)
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

/// Starts a sync and waits until it is inside the (slow) catalog request.
async fn start_sync_at_wb(api: &Api, s: &stock_tracker_tests::Session, wb: &MockServer) -> String {
    let run_id = start_sync(api, s).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cards_requests(wb).await == 0 {
        assert!(Instant::now() < deadline, "the sync never reached WB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run_id
}

/// A later sync on the same worker process completes with the new data.
async fn next_sync_completes(
    cluster: &PgCluster,
    api: &Api,
    s: &stock_tracker_tests::Session,
    wb: &MockServer,
    pid: u32,
) {
    wb.reset().await;
    wb_fake::mount_healthy(wb, 9).await;
    let next = start_sync(api, s).await;
    let run = wait_for_run(api, s, &next).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["attempts"], 1);
    assert!(
        worker_of(cluster, &next)
            .await
            .starts_with(&format!("sync-{pid}-"))
    );
    assert_eq!(stocks(cluster).await, vec![(wb_fake::CHRT_ID, 9)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reconnects_after_a_postgres_restart_and_its_syncs_complete() {
    let cluster = PgCluster::start().await;
    let wb = MockServer::start().await;
    // The catalog takes three seconds: the restart happens while the sync waits on WB.
    wb_fake::mount_slow(&wb, 4, Duration::from_secs(3)).await;
    let api = cluster.api(&wb.uri()).await;
    let s = api.register("restart@shop.ru", "Restart").await;
    connect_token(&api, &s, &mint_token(&TokenOptions::demo(5))).await;
    let worker = start(&cluster, &api, &wb);

    let run_id = start_sync_at_wb(&api, &s, &wb).await;
    assert_eq!(run(&api, &s, &run_id).await["status"], "running");
    cluster.restart().await;

    let run = wait_for_run(&api, &s, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(stocks(&cluster).await, vec![(wb_fake::CHRT_ID, 4)]);
    let this_process = format!("sync-{}-", worker.pid());
    assert!(
        worker_of(&cluster, &run_id)
            .await
            .starts_with(&this_process)
    );

    // Later syncs complete too, on the same worker process.
    next_sync_completes(&cluster, &api, &s, &wb, worker.pid()).await;
    worker.stop().await;
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
    connect_token(&api, &s, &mint_token(&TokenOptions::demo(5))).await;
    let worker = start(&cluster, &api, &wb);
    let pid = worker.pid();

    let run_id = start_sync_at_wb(&api, &s, &wb).await;
    cluster.stop().await;
    // Down until the worker has noticed (apalis's heartbeat or poll failed and its
    // worker stopped; the process must not) and has found PostgreSQL still unreachable.
    let worker = tokio::task::spawn_blocking(move || {
        let mut worker = worker;
        worker.wait_for("worker lost the queue", Duration::from_secs(20));
        worker.wait_for("waiting for PostgreSQL", Duration::from_secs(20));
        worker
    })
    .await
    .unwrap();
    cluster.start_again().await;

    let run = wait_for_run(&api, &s, &run_id).await;
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

    next_sync_completes(&cluster, &api, &s, &wb, pid).await;
    // Nothing stays held, by the worker that gave up or its successor.
    wait_until_no_job_held(&cluster.owner_pool()).await;

    worker.stop().await;
}
