//! A sync that kills its worker every time (as an OOM kill would: SIGKILL while the worker
//! is inside the job) is dead-lettered after `WORKER_MAX_ATTEMPTS` instead of looping: the
//! run shows the verdict through the API and `stock-tracker-api jobs dead`, the worker that
//! recorded it counts it in `stock_tracker_sync_runs_total`, and a further worker leaves
//! it alone while it completes the next sync.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use stock_tracker_shared::jobs::SYNC_QUEUE;
use stock_tracker_shared::jobs::queue::{self, JobStatus};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::{Session, TEST_CREDENTIALS_KEYS};
use stock_tracker_tests::process::Process;
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token, wait_for_run};
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A worker binary with its metrics on `metrics_port`.
fn start_worker(app: &TestApp, wb: &MockServer, metrics_port: u16) -> Process {
    let env = vec![
        ("DATABASE_URL", app.db.app_url()),
        ("REDIS_URL", stock_tracker_tests::db::redis_url()),
        ("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS.to_string()),
        ("REDIS_KEY_PREFIX", app.redis_prefix.clone()),
        ("WB_BASE_URL", wb.uri()),
        ("WB_SANDBOX", "true".to_string()),
        ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        ("WB_TIMEOUT_MS", "60000".to_string()),
        ("WORKER_MAX_ATTEMPTS", MAX_ATTEMPTS.to_string()),
        // A dead worker is noticed after three missed one-second heartbeats.
        ("WORKER_HEARTBEAT_SECS", "1".to_string()),
        ("WORKER_POLL_INTERVAL_MS", "200".to_string()),
        ("WORKER_METRICS_BIND", format!("127.0.0.1:{metrics_port}")),
        ("LOG_FORMAT", "json".to_string()),
    ];
    let mut p = Process::start(WORKER, &[], &env);
    p.wait_for("worker ready", Duration::from_secs(20));
    p
}

fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The value of one sample line (`name{labels} value`), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
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

async fn cards_requests(wb: &MockServer) -> usize {
    wb.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/content/v2/get/cards/list")
        .count()
}

async fn run(app: &TestApp, s: &Session, run_id: &str) -> Value {
    let a = app
        .get(&format!("/api/v1/sync/runs/{run_id}"), &s.access)
        .await;
    assert_eq!(a.status.as_u16(), 200, "{a:#?}");
    a.body
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

async fn stop(mut worker: Process) {
    worker.signal("TERM");
    let (status, seen) = tokio::task::spawn_blocking(move || {
        (
            worker.wait_exit(Duration::from_secs(15)),
            worker.seen.clone(),
        )
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{}", seen.join("\n"));
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
    let started = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    let run_id = started.body["run_id"].as_str().unwrap().to_string();

    // Start workers one after the other; kill each as soon as it is inside the job, until
    // one of them records the verdict instead of syncing. A looping job would exhaust the
    // bound below.
    let mut kills = 0i64;
    let verdict = 'workers: {
        for start in 1..=MAX_ATTEMPTS + 2 {
            let port = free_port();
            let worker = start_worker(&app, &wb, port);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let r = run(&app, &s, &run_id).await;
                if r["status"] == "failed" {
                    break 'workers Some((worker, port, r));
                }
                if r["attempts"] == start && cards_requests(&wb).await >= start as usize {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "worker {start} neither started attempt {start} nor gave up: {r:#}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut worker = worker;
            worker.signal("KILL");
            let status =
                tokio::task::spawn_blocking(move || worker.wait_exit(Duration::from_secs(10)))
                    .await
                    .unwrap();
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
    assert_eq!(cards_requests(&wb).await, MAX_ATTEMPTS as usize);

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
    stop(verdict_worker).await;

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
    let further = start_worker(&app, &wb, port);
    let next = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    assert_eq!(next.status.as_u16(), 202, "{next:#?}");
    let next_id = next.body["run_id"].as_str().unwrap().to_string();
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
        cards_requests(&wb).await,
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
    stop(further).await;
}
