//! Issue 13: stock_history is partitioned by month (UTC) so that retention drops whole
//! partitions; a default partition takes what falls outside the prepared months; partitions
//! are reached through the parent only, where row-level security applies.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::collections::BTreeSet;
use std::time::Instant;
use stock_tracker_shared::jobs::maintenance::{self, MaintenanceStatus};
use stock_tracker_shared::jobs::{MaintenanceJob, Retention, housekeeping, queue};
use stock_tracker_shared::tenancy::{self, Scope};
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;
use stock_tracker_tests::world::{SandboxWorld, small_sandbox};
use uuid::Uuid;

const DEFAULT: &str = "stock_history_default";
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// stock_history's partitions, by name.
async fn partitions(owner: &sqlx::PgPool) -> BTreeSet<String> {
    sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'stock_history'::regclass",
    )
    .fetch_all(owner)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// The partition of the month of `at`.
fn month_partition(at: DateTime<Utc>) -> String {
    format!("stock_history_p{:04}_{:02}", at.year(), at.month())
}

/// When a monthly partition's range ends (the first of the next month, UTC).
fn ends(partition: &str) -> DateTime<Utc> {
    let month = partition.strip_prefix("stock_history_p").unwrap();
    let first = NaiveDate::parse_from_str(&format!("{month}_01"), "%Y_%m_%d").unwrap();
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
    Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap())
}

/// One history row for `tenant` at `at`, written as the owner; returns where it landed.
async fn record(owner: &sqlx::PgPool, tenant: Uuid, at: DateTime<Utc>) -> String {
    sqlx::query_scalar(
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    recorded_at, sync_run_id)
         values ($1, 'wb', -999999, 1, 1, 5, $2, gen_random_uuid())
         returning tableoid::regclass::text",
    )
    .bind(tenant)
    .bind(at)
    .fetch_one(owner)
    .await
    .unwrap()
}

async fn sqlstate(pool: &sqlx::PgPool, sql: &str) -> Option<String> {
    match sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
    {
        Ok(_) => None,
        Err(e) => e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.to_string()),
    }
}

#[tokio::test]
async fn retention_drops_the_months_past_the_window_and_keeps_the_rest() {
    let db = TestDb::new().await;
    let tenant = with_active_credentials(&db.owner, 1).await[0];
    let now = Utc::now();
    housekeeping::prepare_history_partitions(&db.jobs, now)
        .await
        .unwrap();
    // Fourteen months back, as a year of syncs would have left them.
    sqlx::query(
        "select stock_history_add_partition(
                    (date_trunc('month', now() at time zone 'UTC') - make_interval(months => m))::date)
           from generate_series(1, 14) m",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let retention_days = 365;
    let cutoff = now - Duration::days(retention_days);
    let straddling = Utc
        .with_ymd_and_hms(cutoff.year(), cutoff.month(), 1, 0, 0, 0)
        .unwrap();
    let old = now - Duration::days(400);
    let rows = [
        (old, false),
        // Older than the cutoff, but in the month that straddles it: kept until the month
        // ages out entirely.
        (straddling, true),
        (now - Duration::days(10), true),
        (now, true),
    ];
    for (at, _) in rows {
        let landed = record(&db.owner, tenant, at).await;
        assert_eq!(
            landed,
            month_partition(at),
            "a prepared month, not the default"
        );
    }
    let before = partitions(&db.owner).await;
    assert!(before.contains(DEFAULT));
    assert!(before.len() >= 18, "{before:?}");

    let (_, history) = housekeeping::purge(&db.jobs, now, 90, retention_days as i32)
        .await
        .unwrap();
    assert_eq!(history, 1, "the rows of the dropped months");

    let after = partitions(&db.owner).await;
    let dropped: Vec<&String> = before.difference(&after).collect();
    assert!(
        dropped.len() >= 2,
        "whole months past the window: {dropped:?}"
    );
    assert!(dropped.contains(&&month_partition(old)));
    for p in &dropped {
        assert!(ends(p) <= cutoff, "{p} ended inside the window");
    }
    assert!(after.contains(DEFAULT));
    for p in after.iter().filter(|p| *p != DEFAULT) {
        assert!(ends(p) > cutoff, "{p} is past the window but kept");
    }
    let kept: Vec<DateTime<Utc>> =
        sqlx::query_scalar("select recorded_at from stock_history order by recorded_at")
            .fetch_all(&db.owner)
            .await
            .unwrap();
    let want: Vec<DateTime<Utc>> = rows.iter().filter(|(_, k)| *k).map(|(at, _)| *at).collect();
    assert_eq!(kept.len(), want.len(), "{kept:?}");
    // A second purge finds nothing more.
    assert_eq!(
        housekeeping::purge(&db.jobs, now, 90, retention_days as i32)
            .await
            .unwrap(),
        (0, 0)
    );
    assert_eq!(partitions(&db.owner).await, after);
}

#[tokio::test]
async fn an_insert_outside_the_prepared_months_lands_in_the_default_partition_and_moves_later() {
    let db = TestDb::new().await;
    let tenant = with_active_credentials(&db.owner, 1).await[0];
    let far = Utc::now() + Duration::days(3 * 365);
    // Through the parent, as the application writes it (its role, its tenant's scope).
    let mut tx = tenancy::begin(&db.app, Scope::tenant(tenant.into()))
        .await
        .unwrap();
    let landed: String = sqlx::query_scalar(
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    recorded_at, sync_run_id)
         values (app_current_tenant(), 'wb', 1, 1, 1, 7, $1, gen_random_uuid())
         returning tableoid::regclass::text",
    )
    .bind(far)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(landed, DEFAULT);

    // Once its month is prepared (the maintenance function, as the worker's role), the row
    // moves out of the default partition into it.
    let created = sqlx::query_scalar::<_, i32>("select create_stock_history_partitions($1, 0)")
        .bind(far)
        .fetch_one(&db.jobs)
        .await
        .unwrap();
    assert_eq!(created, 1);
    let now_in: String = sqlx::query_scalar(
        "select tableoid::regclass::text from stock_history where recorded_at = $1",
    )
    .bind(far)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(now_in, month_partition(far));
    let in_default: i64 = sqlx::query_scalar("select count(*) from stock_history_default")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(in_default, 0);
    // The api's role may not prepare partitions.
    assert_eq!(
        sqlstate(&db.app, "select create_stock_history_partitions(now(), 0)")
            .await
            .as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
}

#[tokio::test]
async fn the_application_roles_reach_history_only_through_the_parent() {
    let db = TestDb::new().await;
    let tenants = with_active_credentials(&db.owner, 2).await;
    let now = Utc::now();
    housekeeping::prepare_history_partitions(&db.jobs, now)
        .await
        .unwrap();
    for t in &tenants {
        record(&db.owner, *t, now).await;
    }
    let far = now + Duration::days(10 * 365);
    record(&db.owner, tenants[1], far).await;
    let this_month = month_partition(now);

    // Reading a partition directly is refused to both roles, the default one included.
    for pool in [&db.app, &db.jobs] {
        for p in [this_month.as_str(), DEFAULT] {
            assert_eq!(
                sqlstate(pool, &format!("select count(*) from {p}"))
                    .await
                    .as_deref(),
                Some(INSUFFICIENT_PRIVILEGE),
                "{p} read directly"
            );
        }
    }
    // Through the parent, a tenant sees its own rows only.
    let mut tx = tenancy::begin(&db.app, Scope::tenant(tenants[0].into()))
        .await
        .unwrap();
    let seen: Vec<Uuid> = sqlx::query_scalar("select tenant_id from stock_history")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(seen, vec![tenants[0]]);

    // Second line: were a partition granted by mistake, its own policy still filters.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "grant select on {this_month}, {DEFAULT} to {}",
        stock_tracker_tests::db::roles().api
    )))
    .execute(&db.owner)
    .await
    .unwrap();
    let mut tx = tenancy::begin(&db.app, Scope::tenant(tenants[0].into()))
        .await
        .unwrap();
    for p in [this_month.as_str(), DEFAULT] {
        let seen: Vec<Uuid> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select tenant_id from {p}")))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert!(
            seen.iter().all(|t| *t == tenants[0]),
            "{p} showed another tenant's rows: {seen:?}"
        );
    }
    tx.commit().await.unwrap();
    let unscoped: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from {this_month}"
    )))
    .fetch_one(&db.app)
    .await
    .unwrap();
    assert_eq!(unscoped, 0, "no tenant scope, no rows");
    // Every partition has the tenant policy, forced.
    let unprotected: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'stock_history'::regclass
            and not (c.relrowsecurity and c.relforcerowsecurity
                     and exists (select 1 from pg_policy p where p.polrelid = c.oid))",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(unprotected.is_empty(), "{unprotected:?}");
}

#[tokio::test]
async fn the_retention_job_prepares_the_coming_months() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let db = &world.app.db;
    let now = Utc::now();
    // The months the migration prepared (relative to when the template was built) go, so
    // the job has them to create.
    for p in partitions(&db.owner).await {
        if p != DEFAULT {
            sqlx::query(sqlx::AssertSqlSafe(format!("drop table {p}")))
                .execute(&db.owner)
                .await
                .unwrap();
        }
    }
    let job = MaintenanceJob::due(
        now,
        Retention {
            run_days: 90,
            history_days: 365,
        },
    )[1];
    assert!(matches!(job, MaintenanceJob::Retention { .. }));
    let mut conn = db.jobs.acquire().await.unwrap();
    assert_eq!(
        queue::queue_maintenance(&mut conn, &[job]).await.unwrap(),
        1
    );
    drop(conn);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let run = loop {
        let run = maintenance::get(&db.owner, &job.key())
            .await
            .unwrap()
            .unwrap();
        if run.status == MaintenanceStatus::Succeeded {
            break run;
        }
        assert!(Instant::now() < deadline, "never ran: {run:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(run.outcome.unwrap()["partitions_created"], 3);
    let months: BTreeSet<String> = (0..3)
        .map(|i| {
            let first = now.date_naive().with_day(1).unwrap();
            month_partition(
                Utc.from_utc_datetime(
                    &first
                        .checked_add_months(chrono::Months::new(i))
                        .unwrap()
                        .and_hms_opt(0, 0, 0)
                        .unwrap(),
                ),
            )
        })
        .collect();
    let now_there = partitions(&db.owner).await;
    assert!(months.is_subset(&now_there), "{months:?} in {now_there:?}");
}
