//! The api's `next_due_at` is the scheduler's own decision: a tick just before it queues
//! nothing for the tenant, a tick at it queues the tenant's sync, and a tenant that is not
//! synced on schedule (a run in progress, a read-only subscription) has none.

use chrono::{DateTime, Duration, Utc};
use prometheus_client::registry::Registry;
use stock_tracker_scheduler::tick;
use stock_tracker_shared::ids::TenantId;
use stock_tracker_shared::jobs::Retention;
use stock_tracker_shared::metrics::TickMetrics;
use stock_tracker_shared::sync::schedule;
use stock_tracker_shared::tenancy::{self, Scope};
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;
use uuid::Uuid;

const RETENTION: Retention = Retention {
    run_days: 90,
    history_days: 365,
};

async fn next_due(db: &TestDb, tenant: Uuid) -> Option<DateTime<Utc>> {
    let mut tx = tenancy::begin(&db.app, Scope::tenant(TenantId(tenant)))
        .await
        .unwrap();
    let due = schedule::next_due_at(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    due
}

async fn queued_runs(db: &TestDb, tenant: Uuid) -> i64 {
    sqlx::query_scalar(
        "select count(*) from sync_runs where tenant_id = $1 and trigger = 'schedule'",
    )
    .bind(tenant)
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn next_due_at_is_when_the_scheduler_queues_the_tenant() {
    let db = TestDb::new().await;
    let ids = with_active_credentials(&db.owner, 2).await;
    let (tenant, read_only) = (ids[0], ids[1]);
    let metrics = TickMetrics::register(&mut Registry::default());
    // Both synced ten minutes ago; the trial's plan (pro) syncs every 30 minutes.
    // (whole seconds: PostgreSQL keeps microseconds)
    let synced_at = DateTime::from_timestamp(Utc::now().timestamp() - 600, 0).unwrap();
    sqlx::query(
        "insert into sync_runs (id, tenant_id, trigger, status, queued_at, started_at, finished_at)
         select gen_random_uuid(), id, 'manual', 'succeeded', $2, $2, $2 from unnest($1::uuid[]) id",
    )
    .bind(&ids)
    .bind(synced_at)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query("update subscriptions set status = 'canceled' where tenant_id = $1")
        .bind(read_only)
        .execute(&db.owner)
        .await
        .unwrap();

    let due = next_due(&db, tenant)
        .await
        .expect("a synced tenant is due again");
    assert!(
        due >= synced_at + Duration::minutes(30),
        "{due} is within the interval of {synced_at}"
    );
    assert_eq!(next_due(&db, read_only).await, None, "read-only: never due");

    tick(&db.jobs, due - Duration::seconds(1), RETENTION, &metrics)
        .await
        .unwrap();
    assert_eq!(queued_runs(&db, tenant).await, 0, "not due a second early");
    tick(&db.jobs, due, RETENTION, &metrics).await.unwrap();
    assert_eq!(queued_runs(&db, tenant).await, 1, "due at next_due_at");
    assert_eq!(queued_runs(&db, read_only).await, 0);

    // While its run is queued, nothing more is due.
    assert_eq!(next_due(&db, tenant).await, None);
    tick(&db.jobs, due + Duration::hours(3), RETENTION, &metrics)
        .await
        .unwrap();
    assert_eq!(queued_runs(&db, tenant).await, 1);
    assert_eq!(queued_runs(&db, read_only).await, 0);
}
