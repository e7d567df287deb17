//! A sync that kills its worker every time (as an OOM kill would: SIGKILL while the worker
//! is inside the job) is dead-lettered after `WORKER_MAX_ATTEMPTS` instead of looping: the
//! run shows the verdict through the API and `stock-tracker-api jobs dead`, the worker that
//! recorded it counts it in `stock_tracker_sync_runs_total`, and a further worker leaves
//! it alone while it completes the next sync.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use stock_tracker_shared::jobs::SYNC_QUEUE;
use stock_tracker_shared::jobs::queue::{self, JobStatus};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::process::{Process, free_port, sample, scrape, start_worker, worker_env};
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token, run, start_sync, wait_for_run};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const WORKER: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");
const MAX_ATTEMPTS: i64 = 3;

/// `stock-tracker-api`, next to the worker binary in the same target directory (a
/// workspace build, as `scripts/test.sh` runs, puts it there).
fn api_exe() -> PathBuf {
    let exe = PathBuf::from(WORKER).with_file_name("stock-tracker-api");
    assert!(
        exe.exists(),
        "{} is not built; run `cargo build -p stock-tracker-api` (or the whole workspace's tests)",
        exe.display()
    );
    exe
}

/// A worker binary with its metrics on `metrics_port`.
fn start_with_metrics(app: &TestApp, wb: &MockServer, metrics_port: u16) -> Process {
    let env = worker_env(app.db.jobs_url(), &app.redis_prefix, &wb.uri())
        .quick_failover()
        .set("WB_TIMEOUT_MS", "60000")
        .set("WORKER_MAX_ATTEMPTS", MAX_ATTEMPTS.to_string())
        .set("WORKER_METRICS_BIND", format!("127.0.0.1:{metrics_port}"));
    start_worker(WORKER, &env)
}

const DEAD_LETTERED: &str =
    r#"stock_tracker_sync_runs_total{outcome="dead_lettered",error_code="dead_lettered"}"#;
const SUCCEEDED: &str = r#"stock_tracker_sync_runs_total{outcome="succeeded",error_code=""}"#;

/// Runs `stock-tracker-api jobs <args>` as the owner; returns stdout (exit 0 asserted).
fn jobs(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(api_exe())
        .arg("jobs")
        .args(args)
        .env_clear()
        .env("DATABASE_OWNER_URL", app.db.owner_url())
        .output()
        .unwrap();
    assert!(out.status.success(), "jobs {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The queue entry of a run: (status, apalis attempts, lock_by, done_at as text).
async fn queue_entry(
    app: &TestApp,
    run_id: &str,
) -> (JobStatus, i32, Option<String>, Option<String>) {
    let e = queue::entry(&app.db.owner, SYNC_QUEUE, run_id)
        .await
        .unwrap()
        .unwrap();
    (e.status, e.attempts, e.lock_by, e.done_at)
}

async fn held(app: &TestApp) -> (i64, i64) {
    let running = sqlx::query_scalar("select count(*) from sync_runs where status = 'running'")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    (queue::count_claimed(&app.db.owner).await.unwrap(), running)
}

#[tokio::test]
async fn a_job_that_kills_its_worker_every_time_is_dead_lettered_not_looped() {
    let wb = MockServer::start().await;
    // The catalog never answers in time: every attempt is still inside the job (waiting
    // on WB) when its worker is killed.
    wb_fake::mount_slow(&wb, 4, Duration::from_secs(60)).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("oom@shop.ru", "Crash loop").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(6))).await;
    let run_id = start_sync(&app, &s).await;

    // Start workers one after the other; kill each as soon as it is inside the job, until
    // one of them records the verdict instead of syncing. A looping job would exhaust the
    // bound below.
    let mut kills = 0i64;
    let verdict = 'workers: {
        for start in 1..=MAX_ATTEMPTS + 2 {
            let port = free_port();
            let worker = start_with_metrics(&app, &wb, port);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let r = run(&app, &s, &run_id).await;
                if r["status"] == "failed" {
                    break 'workers Some((worker, port, r));
                }
                if r["attempts"] == start && wb_fake::cards_requests(&wb).await >= start as usize {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "worker {start} neither started attempt {start} nor gave up: {r:#}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            worker.signal("KILL");
            let (status, _) = worker.exit(Duration::from_secs(10)).await;
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9)
            );
            kills += 1;
            assert_eq!(run(&app, &s, &run_id).await["status"], "running");
        }
        None
    };
    let (verdict_worker, verdict_port, dead) = verdict.expect("the run was never dead-lettered");
    assert_eq!(
        kills, MAX_ATTEMPTS,
        "every allowed attempt was tried, and no more"
    );
    assert_eq!(dead["status"], "failed", "{dead:#}");
    assert_eq!(dead["error_code"], "dead_lettered", "{dead:#}");
    assert_eq!(
        dead["attempts"],
        MAX_ATTEMPTS + 1,
        "the attempt after the last allowed one only records the verdict"
    );
    let message = dead["error_message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{MAX_ATTEMPTS} attempts"))
            && message.contains("the worker stopped during the attempt"),
        "{message}"
    );
    assert_eq!(wb_fake::cards_requests(&wb).await, MAX_ATTEMPTS as usize);

    // The verdict is counted once, by the worker that recorded it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = scrape(verdict_port);
        if sample(&metrics, DEAD_LETTERED) == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its queue entry is finished (apalis writes results in batches) and nothing is held.
    let deadline = Instant::now() + Duration::from_secs(15);
    while queue_entry(&app, &run_id).await.0 != JobStatus::Done {
        assert!(
            Instant::now() < deadline,
            "queue entry still {:?}",
            queue_entry(&app, &run_id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held(&app).await, (0, 0), "no job or run left running");
    verdict_worker.stop().await;

    // What the operator sees.
    let dead_lines = jobs(&app, &["dead"]);
    let lines: Vec<&str> = dead_lines.lines().collect();
    assert_eq!(lines.len(), 1, "{dead_lines}");
    for part in [
        run_id.as_str(),
        "status=failed",
        &format!("attempts={}", MAX_ATTEMPTS + 1),
        "error=dead_lettered",
        &format!("Gave up after {MAX_ATTEMPTS} attempts"),
    ] {
        assert!(lines[0].contains(part), "{part:?} not in {dead_lines}");
    }
    assert_eq!(jobs(&app, &["running"]), "", "no run left running");

    // A further worker does not pick the dead run up again: it completes a new sync for
    // the same tenant (so it is consuming the queue), while the dead run and its queue
    // entry stay exactly as they were and WB sees no further attempt at it.
    let before = queue_entry(&app, &run_id).await;
    wb.reset().await;
    wb_fake::mount_healthy(&wb, 7).await;
    let port = free_port();
    let further = start_with_metrics(&app, &wb, port);
    let next_id = start_sync(&app, &s).await;
    let done = wait_for_run(&app, &s, &next_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["attempts"], 1);
    let rows: Vec<(i64, i64)> = sqlx::query_as("select chrt_id, quantity from stocks")
        .fetch_all(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(rows, vec![(wb_fake::CHRT_ID, 7)]);

    let after = run(&app, &s, &run_id).await;
    assert_eq!(after, dead, "the dead run is untouched");
    assert_eq!(queue_entry(&app, &run_id).await, before);
    assert_eq!(
        wb_fake::cards_requests(&wb).await,
        1,
        "WB saw the new sync only (the mock was reset)"
    );
    let metrics = scrape(port);
    assert_eq!(sample(&metrics, DEAD_LETTERED), None, "{metrics}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue_entry(&app, &next_id).await.0 != JobStatus::Done {
        assert!(Instant::now() < deadline, "new job not marked done");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held(&app).await, (0, 0), "no job or run left running");
    assert_eq!(sample(&scrape(port), SUCCEEDED), Some(1.0));
    further.stop().await;
}
