//! The scheduler's tick on the real queue: every due tenant queued once per slot, however
//! many replicas tick at the same moment.

use chrono::{Duration, Utc};
use std::collections::HashSet;
use stock_tracker_shared::jobs::schedule;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;
use uuid::Uuid;

async fn queued_jobs(db: &TestDb) -> Vec<(Uuid, Uuid)> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("select job from apalis.jobs")
        .fetch_all(&db.owner)
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
                let pool = db.app.clone();
                tokio::spawn(async move { schedule::tick(&pool, now).await.unwrap() })
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
    let again = schedule::tick(&db.app, start + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(again.queued, 0);
    // ...and one interval later everyone is, once, even with three replicas.
    let later = start + Duration::minutes(75);
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            let pool = db.app.clone();
            tokio::spawn(async move { schedule::tick(&pool, later).await.unwrap().queued })
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
