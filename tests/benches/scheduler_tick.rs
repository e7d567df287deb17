//! The scheduler's budget of issue 13: one tick over 10,000 tenants, all due, in 1 s or
//! less, with their plans and subscriptions joined. Real PostgreSQL and the real queue, as
//! the jobs role (the scheduler's). The tick is the one `stock_tracker_scheduler::tick`
//! runs, step by step through the same shared functions: this period's maintenance jobs,
//! the active-tenant count, then `queue_due_syncs` (the SQL function joins each tenant to
//! its subscription, takes the plan whose limits apply now, a scheduled downgrade
//! included, and that plan's interval from the plans' table in code, and keeps the
//! subscriptions that are not read-only).
//!
//! The tenants' subscriptions are a mix, so every branch of that join is exercised: the
//! three plans, trials, active and past-due (in grace) subscriptions, scheduled downgrades.
//! Prints `<what> <figure> budget <budget> <ok|MISSED>` lines; asserts only that every tenant
//! was queued once. Run by `scripts/bench.sh`, or alone with
//! `cargo bench -p stock-tracker-tests --bench scheduler_tick` (BENCH_TENANTS changes n).

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use chrono::{Duration, Utc};
use std::time::Instant;
use stock_tracker_shared::jobs::{MaintenanceJob, Retention, SYNC_QUEUE, housekeeping, queue};
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let db = TestDb::new().await;
    with_active_credentials(&db.owner, n).await;
    // Every tenant got its trial row from the insert trigger; make them a realistic mix.
    sqlx::query(
        "update subscriptions s
            set plan = m.plan, status = m.status,
                trial_ends_at = case when m.status = 'trialing' then s.trial_ends_at end,
                current_period_start = case when m.status <> 'trialing' then now() end,
                current_period_end = case when m.status <> 'trialing'
                                          then now() + interval '1 month' end,
                past_due_since = case when m.status = 'past_due' then now() - interval '2 days' end,
                downgrade_from = case when m.downgrade then 'enterprise' end,
                downgrade_at = case when m.downgrade then now() + interval '10 days' end
           from (select tenant_id,
                        case when i % 5 = 0 then 'trialing'
                             when i % 17 = 0 then 'past_due'
                             else 'active' end as status,
                        case when i % 5 = 0 then 'pro'
                             else (array['starter', 'pro', 'enterprise'])[1 + (i % 3)::int] end
                            as plan,
                        i % 5 <> 0 and i % 3 <> 2 and i % 7 = 0 as downgrade
                   from (select tenant_id, row_number() over (order by tenant_id) as i
                           from subscriptions) numbered) m
          where m.tenant_id = s.tenant_id",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let mix: Vec<(String, String, i64)> = sqlx::query_as(
        "select plan, status, count(*) from subscriptions group by 1, 2 order by 1, 2",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    // The steady state of a production database (autovacuum analyses these tables there).
    sqlx::query("analyze").execute(&db.owner).await.unwrap();
    let now = Utc::now();
    // The scheduler's defaults (RETENTION_SYNC_RUNS_DAYS, RETENTION_STOCK_HISTORY_DAYS).
    let retention = Retention {
        run_days: 90,
        history_days: 365,
    };

    // The scheduler ticks every minute and its pool keeps its connections (idle timeout
    // 300 s), so a tick does not connect: open the connections the tick will use first and
    // report that separately (it was ~100 ms of the first step's figure).
    let t = Instant::now();
    let warm: Vec<_> = futures::future::join_all((0..2).map(|_| db.jobs.acquire()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    drop(warm);
    println!(
        "  connecting the scheduler's pool (before the tick, not part of it): {:.1} ms",
        ms(t)
    );

    // The whole tick, as `stock_tracker_scheduler::tick` runs it.
    let tick = Instant::now();
    let t = Instant::now();
    let mut conn = db.jobs.acquire().await.unwrap();
    let maintenance = queue::queue_maintenance(&mut conn, &MaintenanceJob::due(now, retention))
        .await
        .unwrap();
    drop(conn);
    let maintenance_ms = ms(t);
    let t = Instant::now();
    let active = housekeeping::count_active_tenants(&db.jobs, now)
        .await
        .unwrap();
    let count_ms = ms(t);
    let t = Instant::now();
    let first = queue::queue_due_syncs(&db.jobs, now).await.unwrap();
    let due_ms = ms(t);
    let tick_ms = ms(tick);

    let t = Instant::now();
    let second = queue::queue_due_syncs(&db.jobs, now + Duration::minutes(1))
        .await
        .unwrap();
    let second_ms = ms(t);

    let jobs = queue::count_all(&db.owner, SYNC_QUEUE).await.unwrap();
    println!("\n== Scheduler tick over {n} tenants (after ANALYZE) ==");
    println!(
        "subscriptions: {}",
        mix.iter()
            .map(|(plan, status, c)| format!("{plan}/{status} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  maintenance jobs {maintenance_ms:>7.1} ms (queued {maintenance})   active count {count_ms:>7.1} ms ({active})   due syncs {due_ms:>7.1} ms (queued {}, jobs in queue {jobs})",
        first.queued
    );
    println!(
        "  next tick, nobody due: due syncs {second_ms:>7.1} ms (queued {})",
        second.queued
    );
    let what = format!("scheduler tick, {n} tenants all due");
    let figure = format!("{tick_ms:.0} ms (due syncs {due_ms:.0} ms)");
    let verdict = if tick_ms <= 1000.0 { "ok" } else { "MISSED" };
    println!(
        "{what:<44} {figure:<38} budget {:<14} {verdict}",
        "<= 1000 ms"
    );

    assert!(
        !first.skipped && !first.paused,
        "the tick ran (not skipped, not paused)"
    );
    assert_eq!(first.queued, n, "every tenant was due and queued once");
    assert_eq!(jobs, n as i64, "one sync job per tenant");
    assert_eq!(active, n as i64, "every tenant counts as active");
    assert_eq!(second.queued, 0, "nobody is due a minute later");
}
