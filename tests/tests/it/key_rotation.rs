//! Rotating the credentials key: every token moves to the new key while both are
//! configured, and syncing works throughout and afterwards with the new key alone.

use sqlx::Connection;
use stock_tracker_shared::config::CredentialKeys;
use stock_tracker_shared::vault::{Vault, rotate};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::TEST_CREDENTIALS_KEYS;
use stock_tracker_tests::world::{Worker, app_for, connect_token, small_sandbox, sync_and_wait};
use wb_sandbox::{TokenOptions, mint_token};

const NEW_KEY: &str = "test2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

async fn key_ids(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select key_id from wb_credentials order by id")
        .fetch_all(&app.db.owner)
        .await
        .unwrap()
}

/// A vault as processes have it during a rotation (the new key first, the old one after
/// it), and an owner connection that sees every tenant, as the rotation needs.
async fn rotation_with_both_keys(app: &TestApp) -> (Vault, sqlx::PgConnection) {
    let both = format!("{NEW_KEY},{TEST_CREDENTIALS_KEYS}");
    let vault = Vault::new(CredentialKeys::parse(&both).unwrap());
    let conn = sqlx::PgConnection::connect(&app.db.owner_url())
        .await
        .unwrap();
    (vault, conn)
}

#[tokio::test]
async fn rotation_reencrypts_every_token_without_interrupting_syncs() {
    let sandbox = wb_sandbox::spawn(small_sandbox()).await.unwrap();
    let app = &app_for(&sandbox.base_url).await;
    let a = app.register("a@shop.ru", "A").await;
    let b = app.register("b@shop.ru", "B").await;
    connect_token(app, &a, &mint_token(&TokenOptions::demo(1))).await;
    connect_token(app, &b, &mint_token(&TokenOptions::demo(2))).await;
    assert_eq!(key_ids(app).await, ["test1", "test1"]);
    let before: Vec<Vec<u8>> =
        sqlx::query_scalar("select ciphertext from wb_credentials order by id")
            .fetch_all(&app.db.owner)
            .await
            .unwrap();

    // Step 1: processes run with the new key first and the old one after it.
    let (vault, mut conn) = rotation_with_both_keys(app).await;
    let report = rotate::rotate(&mut conn, &vault).await.unwrap();
    assert_eq!(
        (report.resealed, report.skipped, report.unreadable.len()),
        (2, 0, 0)
    );
    assert_eq!(key_ids(app).await, ["test2", "test2"]);
    let after: Vec<Vec<u8>> =
        sqlx::query_scalar("select ciphertext from wb_credentials order by id")
            .fetch_all(&app.db.owner)
            .await
            .unwrap();
    assert!(before.iter().zip(&after).all(|(x, y)| x != y));
    // Running it again finds nothing to do.
    assert_eq!(rotate::rotate(&mut conn, &vault).await.unwrap().resealed, 0);

    // Step 2: the old key is dropped; a worker with only the new key still syncs both.
    let worker = Worker::start_with_keys(app, &sandbox.base_url, NEW_KEY).await;
    for s in [&a, &b] {
        let run = sync_and_wait(app, s).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
    }
    worker.stop().await;

    // A worker that only knows the retired key cannot read them: the run says so.
    let stale = Worker::start_with_keys(app, &sandbox.base_url, TEST_CREDENTIALS_KEYS).await;
    let run = sync_and_wait(app, &a).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "credential_undecryptable");
    stale.stop().await;
}

/// A row under a key nobody has any more must not stop the rotation: every readable row
/// after it is still moved, and the unreadable one is reported by id.
#[tokio::test]
async fn rotation_moves_every_readable_row_past_unreadable_ones() {
    let sandbox = wb_sandbox::spawn(small_sandbox()).await.unwrap();
    let app = &app_for(&sandbox.base_url).await;
    let a = app.register("a@shop.ru", "A").await;
    let b = app.register("b@shop.ru", "B").await;
    connect_token(app, &a, &mint_token(&TokenOptions::demo(1))).await;
    // B's token was sealed under a key that is gone, and its id sorts first.
    connect_token(app, &b, &mint_token(&TokenOptions::demo(2))).await;
    let lost = uuid::Uuid::nil();
    sqlx::query("update wb_credentials set id = $1, key_id = 'retired' where tenant_id = $2::uuid")
        .bind(lost)
        .bind(&b.tenant_id)
        .execute(&app.db.owner)
        .await
        .unwrap();

    let (vault, mut conn) = rotation_with_both_keys(app).await;
    // One row per batch: the unreadable row fills the first batch on its own.
    let report = rotate::rotate_in_batches(&mut conn, &vault, 1)
        .await
        .unwrap();
    assert_eq!(report.resealed, 1, "A's token moved: {report:?}");
    assert_eq!(
        report.unreadable.iter().map(|id| id.0).collect::<Vec<_>>(),
        [lost]
    );
    assert_eq!(key_ids(app).await, ["retired", "test2"]);
}
