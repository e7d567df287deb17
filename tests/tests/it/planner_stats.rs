//! Issue 13: a completed sync leaves the planner informed. After a sync that wrote many rows
//! the worker analyses the synced tables through `analyze_synced_tables()`, an owner-side
//! function only the worker's role may call; a small sync does not.

use reqwest::StatusCode;
use std::time::Duration;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::world::{
    SandboxWorld, connect_token, small_sandbox, sync_and_wait, wait_until_no_job_held,
};
use wb_sandbox::SandboxConfig;

const SELLER: i64 = 5151;

/// When `table` was last analysed by hand (not by autovacuum), and its row estimate.
async fn analysed(owner: &sqlx::PgPool, table: &str) -> (bool, f32) {
    sqlx::query_as(
        "select s.last_analyze is not null, c.reltuples
           from pg_stat_user_tables s join pg_class c on c.oid = s.relid
          where s.relname = $1",
    )
    .bind(table)
    .fetch_one(owner)
    .await
    .unwrap()
}

/// Syncs the seller of `cfg` once through the api, the queue and a real worker, and waits
/// until the worker has finished the job (the analyse runs after the run is recorded, inside
/// the job). Returns the world and the run's `stock_rows`.
async fn one_sync(cfg: SandboxConfig) -> (SandboxWorld, i64) {
    let world = SandboxWorld::start(cfg).await;
    let app = &world.app;
    let s = app.register("stats@shop.ru", "Stats shop").await;
    let saved = connect_token(app, &s, &world.token(SELLER)).await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:#?}");
    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    wait_until_no_job_held(&app.db.owner).await;
    let rows = run["stock_rows"].as_i64().unwrap();
    (world, rows)
}

#[tokio::test]
async fn a_large_sync_leaves_the_synced_tables_analysed() {
    // 100 products × 3 sizes × (3 WB + 1 seller warehouses): 1,200 stock rows, as many
    // history rows and 400 catalog rows, well past the threshold.
    let (world, stock_rows) = one_sync(SandboxConfig {
        products: 100,
        ..small_sandbox()
    })
    .await;
    assert_eq!(stock_rows, 1_200);
    let owner = &world.app.db.owner;
    for table in ["products", "sizes", "warehouses", "stocks"] {
        let (by_hand, tuples) = analysed(owner, table).await;
        assert!(by_hand, "{table} was analysed after the sync");
        assert!(tuples > 0.0, "{table} has a row estimate: {tuples}");
    }
    let (_, stocks) = analysed(owner, "stocks").await;
    assert!(
        (stocks - 1_200.0).abs() < 1.0,
        "the planner knows the stock rows: {stocks}"
    );
}

#[tokio::test]
async fn a_small_sync_does_not_analyse() {
    // 12 × 3 × 4 = 144 stock rows: a few pages, below the threshold.
    let (world, stock_rows) = one_sync(small_sandbox()).await;
    assert_eq!(stock_rows, 144);
    for table in ["products", "sizes", "warehouses", "stocks"] {
        let (by_hand, _) = analysed(&world.app.db.owner, table).await;
        assert!(!by_hand, "{table} was analysed after a small sync");
    }
}

#[tokio::test]
async fn only_the_jobs_role_may_run_the_analyse_and_it_skips_while_another_runs() {
    let db = TestDb::new().await;
    let refused = sqlx::query("select analyze_synced_tables()")
        .execute(&db.app)
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42501"),
        "the api's role is refused: {refused}"
    );
    let ran: bool = sqlx::query_scalar("select analyze_synced_tables()")
        .fetch_one(&db.jobs)
        .await
        .unwrap();
    assert!(ran);
    assert!(analysed(&db.owner, "stocks").await.0);

    // While one session analyses (holds the function's lock), another returns at once.
    let mut holder = db.jobs.begin().await.unwrap();
    assert!(
        sqlx::query_scalar::<_, bool>("select analyze_synced_tables()")
            .fetch_one(&mut *holder)
            .await
            .unwrap()
    );
    let other = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::query_scalar::<_, bool>("select analyze_synced_tables()").fetch_one(&db.jobs),
    )
    .await
    .expect("the second call does not wait")
    .unwrap();
    assert!(!other, "skipped while another session analyses");
    holder.rollback().await.unwrap();
}
