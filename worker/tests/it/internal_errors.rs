//! An attempt that breaks off on our side (here PostgreSQL refusing the write with an error
//! that names internals) shows the seller only our own wording on the run, also once the
//! run is given up; the error itself goes to the worker's log with the run and tenant ids.

use std::time::{Duration, Instant};
use stock_tracker_shared::sync::Failure;
use stock_tracker_tests::process::{start_worker, worker_env};
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token, run, start_sync, wait_for_run};
use wb_sandbox::{TokenOptions, mint_token};
use wiremock::MockServer;

const WORKER: &str = env!("CARGO_BIN_EXE_stock-tracker-worker");
const INTERNAL: &str = "SECRET-DETAIL relation st_internal_catalog on 10.9.8.7";

#[tokio::test]
async fn a_database_error_in_a_sync_is_logged_but_the_run_shows_only_seller_text() {
    let wb = MockServer::start().await;
    wb_fake::mount_healthy(&wb, 3).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("internal@shop.ru", "Internal errors").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(11))).await;
    // Every write of the catalog fails inside PostgreSQL, with a message naming internals.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create function st_test_refuse() returns trigger language plpgsql as $$
         begin raise exception '{INTERNAL}'; end $$;
         create trigger st_test_refuse before insert on products
            for each statement execute function st_test_refuse();"
    )))
    .execute(&app.db.owner)
    .await
    .unwrap();
    let run_id = start_sync(&app, &s).await;
    let env = worker_env(app.db.jobs_url(), &app.redis_prefix, &wb.uri())
        .set("WORKER_MAX_ATTEMPTS", "2")
        .set("WORKER_RETRY_BASE_SECS", "1");
    let mut worker = start_worker(WORKER, &env);

    // While it is being retried, the run says the attempt failed on our side, and no more.
    let expected = Failure::attempt_failed();
    let deadline = Instant::now() + Duration::from_secs(30);
    let retrying = loop {
        let r = run(&app, &s, &run_id).await;
        if r["error_code"] == "attempt_failed" {
            break r;
        }
        assert!(Instant::now() < deadline, "no failed attempt noted: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        retrying["error_message"],
        expected.message(),
        "{retrying:#}"
    );

    // Given up after two attempts: still only our wording, here and in the run list.
    let dead = wait_for_run(&app, &s, &run_id).await;
    assert_eq!(dead["error_code"], "dead_lettered", "{dead:#}");
    assert_eq!(
        dead["error_message"],
        "Gave up after 2 attempts; the last one ended with: an error on our side.",
    );
    let listed = app.get("/api/v1/sync/runs", &s.access).await;
    let stored: Option<String> =
        sqlx::query_scalar("select error_message from sync_runs where id = $1::uuid")
            .bind(&run_id)
            .fetch_one(&app.db.owner)
            .await
            .unwrap();
    for seen in [&listed.text, &dead.to_string(), &stored.unwrap_or_default()] {
        assert!(
            !seen.contains("SECRET-DETAIL") && !seen.contains("10.9.8.7"),
            "the seller sees the internal error: {seen}"
        );
    }

    // The operator's log has it, with the run and the tenant.
    worker.wait_for("SECRET-DETAIL", Duration::from_secs(10));
    let line = worker
        .seen
        .iter()
        .find(|l| l.contains("SECRET-DETAIL"))
        .unwrap();
    assert!(
        line.contains(&run_id) && line.contains(&s.tenant_id) && line.contains("ERROR"),
        "{line}"
    );
    worker.stop().await;
}
