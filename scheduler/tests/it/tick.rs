//! One scheduler tick, in-process: it queues the period's maintenance jobs and the due
//! tenants' syncs, each once however often and on however many replicas it runs.

use chrono::{Duration, Utc};
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use stock_tracker_scheduler::{TickOutcome, tick};
use stock_tracker_shared::jobs::{MAINTENANCE_QUEUE, MaintenanceJob, Retention, SYNC_QUEUE, queue};
use stock_tracker_shared::metrics::TickMetrics;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;
use uuid::Uuid;

const RETENTION: Retention = Retention {
    run_days: 90,
    history_days: 365,
};

fn keys_due(now: chrono::DateTime<Utc>) -> BTreeSet<String> {
    MaintenanceJob::due(now, RETENTION)
        .iter()
        .map(MaintenanceJob::key)
        .collect()
}

async fn maintenance_keys(db: &TestDb) -> BTreeSet<String> {
    queue::keys(&db.owner, MAINTENANCE_QUEUE)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_tick_queues_maintenance_and_due_syncs_once() {
    let db = TestDb::new().await;
    let tenants = with_active_credentials(&db.owner, 3).await;
    let metrics = TickMetrics::register(&mut Registry::default());
    let now = Utc::now();

    let first = tick(&db.jobs, now, RETENTION, &metrics).await.unwrap();
    assert_eq!(
        first,
        TickOutcome {
            syncs: 3,
            skipped: false,
            maintenance: 3
        }
    );
    assert_eq!(metrics.queued.get(), 3);
    assert_eq!(metrics.maintenance_queued.get(), 3);

    // Every sync job belongs to a scheduled run of one of the tenants, and each run has one.
    let runs: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select id, tenant_id from sync_runs where trigger = 'schedule' and status = 'queued'",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        runs.iter().map(|(_, t)| *t).collect::<BTreeSet<_>>(),
        tenants.iter().copied().collect::<BTreeSet<_>>()
    );
    let sync_keys: BTreeSet<String> = queue::keys(&db.owner, SYNC_QUEUE)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        sync_keys,
        runs.iter().map(|(id, _)| id.to_string()).collect()
    );

    // The period's maintenance jobs, pending, each with its record.
    assert_eq!(maintenance_keys(&db).await, keys_due(now));
    assert_eq!(
        queue::count_in_status(&db.owner, MAINTENANCE_QUEUE, queue::JobStatus::Pending)
            .await
            .unwrap(),
        3
    );
    let recorded: Vec<String> =
        sqlx::query_scalar("select key from maintenance_runs where status = 'queued' order by key")
            .fetch_all(&db.owner)
            .await
            .unwrap();
    assert_eq!(recorded.into_iter().collect::<BTreeSet<_>>(), keys_due(now));

    // The same tick again (another replica, or a retry) queues nothing new.
    let again = tick(&db.jobs, now, RETENTION, &metrics).await.unwrap();
    assert_eq!((again.syncs, again.maintenance), (0, 0));
    assert_eq!(metrics.maintenance_queued.get(), 3);

    // An hour later the hourly jobs are due again (and the daily one if the day changed);
    // the tenants' runs are still queued, so no sync is.
    let later = now + Duration::hours(1);
    let next = tick(&db.jobs, later, RETENTION, &metrics).await.unwrap();
    let new: BTreeSet<String> = keys_due(later)
        .difference(&keys_due(now))
        .cloned()
        .collect();
    assert!(new.len() >= 2, "{new:?}");
    assert_eq!((next.syncs, next.maintenance), (0, new.len()));
    assert_eq!(
        maintenance_keys(&db).await,
        keys_due(now).union(&keys_due(later)).cloned().collect()
    );
}

#[tokio::test]
async fn replicas_ticking_at_once_queue_each_maintenance_job_once() {
    let db = TestDb::new().await;
    with_active_credentials(&db.owner, 2).await;
    let now = Utc::now();
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let pool = db.jobs.clone();
            tokio::spawn(async move {
                let metrics = TickMetrics::register(&mut Registry::default());
                tick(&pool, now, RETENTION, &metrics).await.unwrap()
            })
        })
        .collect();
    let (mut syncs, mut maintenance) = (0, 0);
    for r in replicas {
        let outcome = r.await.unwrap();
        syncs += outcome.syncs;
        maintenance += outcome.maintenance;
    }
    assert_eq!((syncs, maintenance), (2, 3));
    assert_eq!(maintenance_keys(&db).await, keys_due(now));
}
