//! The scheduler's tick on the real queue: every due tenant queued once per slot, however
//! many replicas tick at the same moment.

use chrono::{Duration, Utc};
use std::collections::HashSet;
use stock_tracker_shared::jobs::{housekeeping, queue};
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;
use uuid::Uuid;

async fn queued_jobs(db: &TestDb) -> Vec<(Uuid, Uuid)> {
    let payloads = queue::payloads(&db.owner, stock_tracker_shared::jobs::SYNC_QUEUE)
        .await
        .unwrap();
    payloads
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(p).unwrap();
            (
                v["run_id"].as_str().unwrap().parse().unwrap(),
                v["tenant_id"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn three_replicas_ten_ticks_queue_each_due_tenant_once_per_slot() {
    let db = TestDb::new().await;
    let tenants = with_active_credentials(&db.owner, 50).await;
    // A tenant without a usable token is never due.
    let invalid = with_active_credentials(&db.owner, 1).await[0];
    sqlx::query("update wb_credentials set status = 'invalid' where tenant_id = $1")
        .bind(invalid)
        .execute(&db.owner)
        .await
        .unwrap();

    let start = Utc::now();
    for minute in 0..10 {
        let now = start + Duration::minutes(minute);
        let replicas: Vec<_> = (0..3)
            .map(|_| {
                let pool = db.jobs.clone();
                tokio::spawn(async move { queue::queue_due_syncs(&pool, now).await.unwrap() })
            })
            .collect();
        for r in replicas {
            r.await.unwrap();
        }
    }
    let jobs = queued_jobs(&db).await;
    assert_eq!(jobs.len(), 50, "one job per due tenant");
    let tenants_queued: HashSet<Uuid> = jobs.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        tenants_queued,
        tenants.iter().copied().collect::<HashSet<_>>()
    );
    let runs: i64 = sqlx::query_scalar("select count(*) from sync_runs where trigger = 'schedule'")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(runs, 50, "a run per job, none twice");

    // Those syncs finish; within the interval nobody is due again...
    sqlx::query("update sync_runs set status = 'succeeded', finished_at = $1")
        .bind(start + Duration::minutes(10))
        .execute(&db.owner)
        .await
        .unwrap();
    let again = queue::queue_due_syncs(&db.jobs, start + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(again.queued, 0);
    // ...and one interval later everyone is, once, even with three replicas.
    let later = start + Duration::minutes(75);
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            let pool = db.jobs.clone();
            tokio::spawn(async move { queue::queue_due_syncs(&pool, later).await.unwrap().queued })
        })
        .collect();
    let mut queued = 0;
    for r in replicas {
        queued += r.await.unwrap();
    }
    assert_eq!(queued, 50);
    assert_eq!(queued_jobs(&db).await.len(), 100);
}

#[tokio::test]
async fn slots_spread_tenants_across_the_interval() {
    let db = TestDb::new().await;
    let tenants = with_active_credentials(&db.owner, 200).await;
    let now = Utc::now();
    let starts: Vec<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select sync_slot_start(id, 60, $1) from unnest($2::uuid[]) as id")
            .bind(now)
            .bind(&tenants)
            .fetch_all(&db.owner)
            .await
            .unwrap();
    // Every slot start lies in the hour before now, and they are spread over it.
    assert!(
        starts
            .iter()
            .all(|s| *s <= now && *s > now - Duration::minutes(60))
    );
    let minutes: HashSet<i64> = starts.iter().map(|s| (now - *s).num_minutes()).collect();
    assert!(
        minutes.len() > 40,
        "200 tenants fall into {} distinct minutes",
        minutes.len()
    );
}

#[tokio::test]
async fn expiring_tokens_are_warned_about_once_per_threshold() {
    let db = TestDb::new().await;
    let tenants = with_active_credentials(&db.owner, 4).await;
    for (tenant, days) in tenants.iter().zip([5, 10, 20, 3]) {
        sqlx::query("update wb_credentials set expires_at = now() + make_interval(days => $2) where tenant_id = $1")
            .bind(tenant)
            .bind(days)
            .execute(&db.owner)
            .await
            .unwrap();
    }
    // The 3-day token was already refused by WB: no warnings for it.
    sqlx::query("update wb_credentials set status = 'invalid' where tenant_id = $1")
        .bind(tenants[3])
        .execute(&db.owner)
        .await
        .unwrap();
    let now = Utc::now();
    // 5 days left: the 14- and 7-day warnings; 10 days: the 14-day one; 20 days: none.
    assert_eq!(
        housekeeping::warn_expiring_tokens(&db.jobs, now)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        housekeeping::warn_expiring_tokens(&db.jobs, now)
            .await
            .unwrap(),
        0,
        "once each"
    );
    let per_tenant: Vec<(Uuid, i64)> = sqlx::query_as(
        "select tenant_id, count(*) from tenant_events where kind = 'wb_token_expiring'
          group by tenant_id order by count(*) desc",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(per_tenant, vec![(tenants[0], 2), (tenants[1], 1)]);
    // Four days on, the 5-day token is inside its last day and the 10-day one inside its
    // last week: one new warning each.
    let later = now + Duration::days(4) + Duration::hours(1);
    assert_eq!(
        housekeeping::warn_expiring_tokens(&db.jobs, later)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn retention_purges_old_runs_and_history_only() {
    let db = TestDb::new().await;
    let tenant = with_active_credentials(&db.owner, 1).await[0];
    for days_ago in [200, 10] {
        sqlx::query(
            "insert into sync_runs (id, tenant_id, trigger, status, finished_at)
             values (gen_random_uuid(), $1, 'schedule', 'succeeded', now() - make_interval(days => $2))",
        )
        .bind(tenant)
        .bind(days_ago)
        .execute(&db.owner)
        .await
        .unwrap();
        sqlx::query(
            "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity, recorded_at, sync_run_id)
             values ($1, 'wb', -999999, 1, 1, 5, now() - make_interval(days => $2 * 3), gen_random_uuid())",
        )
        .bind(tenant)
        .bind(days_ago)
        .execute(&db.owner)
        .await
        .unwrap();
    }
    let (runs, history) = housekeeping::purge(&db.jobs, Utc::now(), 90, 365)
        .await
        .unwrap();
    assert_eq!((runs, history), (1, 1));
    let left: i64 = sqlx::query_scalar("select count(*) from sync_runs")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(left, 1);
    assert_eq!(
        housekeeping::purge(&db.jobs, Utc::now(), 90, 365)
            .await
            .unwrap(),
        (0, 0)
    );
}
