//! Maintenance jobs (retention, token warnings, reconciliation) run by the worker from their
//! own queue, once per key, with the sync jobs' attempt and dead-letter discipline.

use chrono::Utc;
use prometheus_client::registry::Registry;
use std::time::{Duration, Instant};
use stock_tracker_shared::jobs::maintenance::MaintenanceStatus;
use stock_tracker_shared::jobs::{
    MAINTENANCE_QUEUE, MaintenanceJob, Retention, maintenance, queue,
};
use stock_tracker_shared::metrics::MaintenanceMetrics;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::process::{Process, base_env};
use stock_tracker_tests::tenants::with_active_credentials;
use stock_tracker_worker::maintenance::{Maintenance, Outcome};
use uuid::Uuid;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");
const RETENTION: Retention = Retention {
    run_days: 90,
    history_days: 365,
};

fn retention_job() -> MaintenanceJob {
    MaintenanceJob::due(Utc::now(), RETENTION)[1]
}

async fn queue_jobs(db: &TestDb, jobs: &[MaintenanceJob]) -> usize {
    let mut conn = db.jobs.acquire().await.unwrap();
    queue::queue_maintenance(&mut conn, jobs).await.unwrap()
}

async fn old_run(db: &TestDb, tenant: Uuid) -> Uuid {
    sqlx::query_scalar(
        "insert into sync_runs (id, tenant_id, trigger, status, queued_at, finished_at)
         values (gen_random_uuid(), $1, 'schedule', 'succeeded', now() - interval '101 days',
                 now() - interval '100 days')
         returning id",
    )
    .bind(tenant)
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_worker_runs_a_queued_retention_job_once() {
    let db = TestDb::new().await;
    let tenant = with_active_credentials(&db.owner, 1).await[0];
    let old = old_run(&db, tenant).await;
    let job = retention_job();
    assert_eq!(queue_jobs(&db, &[job]).await, 1);
    assert_eq!(queue_jobs(&db, &[job]).await, 0, "the key queues it once");

    let mut worker = Process::start(EXE, &[], &base_env(&db));
    worker.wait_for("worker ready", Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    let run = loop {
        let run = maintenance::get(&db.owner, &job.key())
            .await
            .unwrap()
            .unwrap();
        if run.status == MaintenanceStatus::Succeeded {
            break run;
        }
        assert!(Instant::now() < deadline, "never ran: {run:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run.attempts, 1);
    assert_eq!(run.outcome.unwrap()["runs"], 1);
    let left: i64 = sqlx::query_scalar("select count(*) from sync_runs where id = $1")
        .bind(old)
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(left, 0, "the old run was purged");
    // The queue entry is finished too (apalis writes results in batches: give it a moment).
    while queue::status_of(&db.owner, MAINTENANCE_QUEUE, &job.key())
        .await
        .unwrap()
        != Some(queue::JobStatus::Done)
    {
        assert!(Instant::now() < deadline, "the queue entry never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Asking again for the same period changes nothing.
    assert_eq!(queue_jobs(&db, &[job]).await, 0);
    worker.signal("TERM");
    assert_eq!(worker.wait_exit(Duration::from_secs(15)).code(), Some(0));
}

fn handler(db: &TestDb) -> Maintenance {
    Maintenance {
        db: db.jobs.clone(),
        stripe: None,
        max_attempts: 3,
        retry_base: Duration::from_secs(1),
        metrics: MaintenanceMetrics::register(&mut Registry::default()),
    }
}

#[tokio::test]
async fn a_job_past_its_attempts_is_dead_lettered_and_a_redelivery_does_nothing() {
    let db = TestDb::new().await;
    let tenant = with_active_credentials(&db.owner, 1).await[0];
    let old = old_run(&db, tenant).await;
    let job = retention_job();
    queue_jobs(&db, &[job]).await;
    // Three attempts started and never finished (a worker crashing each time).
    sqlx::query("update maintenance_runs set status = 'running', attempts = 3 where key = $1")
        .bind(job.key())
        .execute(&db.owner)
        .await
        .unwrap();
    let m = handler(&db);
    assert_eq!(m.run(job).await.unwrap(), Outcome::DeadLettered);
    let run = maintenance::get(&db.owner, &job.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.status, run.error_code.as_deref(), run.attempts),
        (MaintenanceStatus::Failed, Some("dead_lettered"), 4)
    );
    let kept: i64 = sqlx::query_scalar("select count(*) from sync_runs where id = $1")
        .bind(old)
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(kept, 1, "a dead-lettered job does not do its work");
    assert_eq!(m.run(job).await.unwrap(), Outcome::AlreadyDone);
}

#[tokio::test]
async fn reconciliation_without_stripe_settings_records_that_it_skipped() {
    let db = TestDb::new().await;
    let job = MaintenanceJob::due(Utc::now(), RETENTION)[0];
    assert_eq!(job.kind(), "reconcile");
    queue_jobs(&db, &[job]).await;
    let m = handler(&db);
    let Outcome::Succeeded(outcome) = m.run(job).await.unwrap() else {
        panic!("not run")
    };
    assert_eq!(outcome["skipped"], "billing_not_configured");
    assert_eq!(m.run(job).await.unwrap(), Outcome::AlreadyDone);
    let run = maintenance::get(&db.owner, &job.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.status, run.attempts),
        (MaintenanceStatus::Succeeded, 1)
    );
}
