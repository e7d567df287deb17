//! Issue 11, item 2: every api database session has a statement, lock and idle-in-transaction
//! timeout, so a request stuck behind someone else's lock gives its connection back quickly
//! (503 `database_busy`) instead of holding it until the request times out.

use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use uuid::Uuid;

#[tokio::test]
async fn api_sessions_have_timeouts_and_a_request_stuck_on_a_lock_gives_up() {
    let app = TestApp::builder()
        .env("DATABASE_LOCK_TIMEOUT_MS", "500")
        .spawn()
        .await;
    let settings: (String, String, String, String) = sqlx::query_as(
        "select current_setting('statement_timeout'), current_setting('lock_timeout'),
                current_setting('idle_in_transaction_session_timeout'), current_setting('jit')",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    // JIT is off in our sessions (issue 13): compiling cost 0.2-1 s per statement here.
    assert_eq!(
        settings,
        ("15s".into(), "500ms".into(), "15s".into(), "off".into())
    );

    let owner = app.register("locked@shop.ru", "Locked").await;
    // Someone else holds the tenant's row (a long migration, a stuck job).
    let mut holder = app.db.owner.begin().await.unwrap();
    sqlx::query("select 1 from tenants where id = $1 for update")
        .bind(Uuid::parse_str(&owner.tenant_id).unwrap())
        .execute(&mut *holder)
        .await
        .unwrap();

    let asked = Instant::now();
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({"name": "New name"})),
        )
        .await;
    renamed.problem(503, "database_busy");
    assert!(renamed.headers.contains_key("retry-after"));
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "gave up after the lock timeout, not the request timeout: {:?}",
        asked.elapsed()
    );
    holder.rollback().await.unwrap();
    let again = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({"name": "New name"})),
        )
        .await;
    assert_eq!(again.status, 200, "{again:#?}");
}
