//! The scheduler's budget: one tick over 10,000 tenants decides and queues the due syncs
//! in 1 s or less. Real PostgreSQL and the real queue; prints figures, asserts nothing
//! about time. Run with `cargo bench -p stock-tracker-tests --bench scheduler_tick`.

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use chrono::{Duration, Utc};
use std::time::Instant;
use stock_tracker_shared::jobs::queue;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::tenants::with_active_credentials;

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let db = TestDb::new().await;
    with_active_credentials(&db.owner, n).await;
    sqlx::query("analyze").execute(&db.owner).await.unwrap();
    let now = Utc::now();

    let t = Instant::now();
    let first = queue::queue_due_syncs(&db.jobs, now).await.unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;

    let t = Instant::now();
    let second = queue::queue_due_syncs(&db.jobs, now + Duration::minutes(1))
        .await
        .unwrap();
    let second_ms = t.elapsed().as_secs_f64() * 1000.0;

    let jobs = queue::count_all(&db.owner, stock_tracker_shared::jobs::SYNC_QUEUE)
        .await
        .unwrap();
    println!("\n== Scheduler tick over {n} tenants ==");
    println!(
        "tick with every tenant due   {first_ms:>7.1} ms   queued {} (jobs in queue: {jobs})",
        first.queued
    );
    println!(
        "next tick, nobody due        {second_ms:>7.1} ms   queued {}",
        second.queued
    );
    println!("budget: one tick <= 1000 ms");
}
