//! Which WB tokens a seller may connect (WB's rules for cloud services): by default base and
//! service tokens for our catalog entry; personal tokens only where configured. Tokens
//! stored before keep working and carry a warning.

use reqwest::StatusCode;
use serde_json::Value;
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::wb_settings;
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token};
use wb_sandbox::{TokenOptions, TokenType, mint_token};
use wiremock::MockServer;

async fn wb_ok() -> MockServer {
    let wb = MockServer::start().await;
    wb_fake::mount_ping(&wb).await;
    wb
}

/// The api with the test settings for `wb`, one of them changed.
async fn app_with(wb: &MockServer, name: &str, value: &str) -> TestApp {
    let mut builder = TestApp::builder();
    for (k, v) in wb_settings(&wb.uri()) {
        builder = builder.env(&k, &v);
    }
    builder.env(name, value).spawn().await
}

/// The api as production runs it: `WB_ACCEPTED_TOKEN_TYPES` unset (base and service).
async fn production_policy(wb: &MockServer) -> TestApp {
    app_with(wb, "WB_ACCEPTED_TOKEN_TYPES", "").await
}

fn token(seller: i64, token_type: TokenType) -> String {
    mint_token(&TokenOptions::of_type(seller, token_type))
}

fn capability<'a>(view: &'a Value, data: &str) -> &'a Value {
    view["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["data"] == data)
        .unwrap_or_else(|| panic!("no {data} in {view:#}"))
}

#[tokio::test]
async fn token_policy_refuses_a_personal_token_by_default_with_guidance() {
    let wb = wb_ok().await;
    let app = production_policy(&wb).await;
    let s = app.register("personal@shop.ru", "Shop").await;

    let a = connect_token(&app, &s, &token(5, TokenType::Personal)).await;
    let p = a.problem(422, "token_type_not_accepted");
    assert_eq!(p["field"], "token");
    let detail = p["detail"].as_str().unwrap();
    for words in [
        "personal token",
        "cloud services",
        "base token",
        "Settings → API integrations",
        "Manual integration",
        "service token",
        "Business Solutions Catalog",
    ] {
        assert!(detail.contains(words), "{words:?} missing in {detail}");
    }
    assert!(
        wb.received_requests().await.unwrap().is_empty(),
        "a refused token never reaches WB"
    );

    // The types it names are taken.
    for t in [TokenType::Base, TokenType::Service] {
        let a = connect_token(&app, &s, &token(5, t)).await;
        assert_eq!(a.status, StatusCode::OK, "{a:#?}");
        assert_eq!(a.body["warnings"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn token_policy_accepts_a_personal_token_where_configured() {
    let wb = wb_ok().await;
    // The harness, like local runs and the sandbox, adds `personal`.
    let app = app_for(&wb.uri()).await;
    let s = app.register("own-software@shop.ru", "Shop").await;
    let a = connect_token(&app, &s, &token(6, TokenType::Personal)).await;
    assert_eq!(a.status, StatusCode::OK, "{a:#?}");
    assert_eq!(a.body["token_type"], "personal");
    assert_eq!(a.body["warnings"], serde_json::json!([]));
}

#[tokio::test]
async fn token_policy_refuses_a_service_token_for_another_service() {
    let wb = wb_ok().await;
    let app = production_policy(&wb).await;
    let s = app.register("other-service@shop.ru", "Shop").await;
    let theirs = mint_token(&TokenOptions {
        service_id: Some("0d4c9f00-other-service".into()),
        ..TokenOptions::of_type(7, TokenType::Service)
    });
    let a = connect_token(&app, &s, &theirs).await;
    let p = a.problem(422, "token_for_other_service");
    assert_eq!(p["field"], "token");
    assert!(p["detail"].as_str().unwrap().contains("another service"));

    // Ours is taken, and says what it can sync: the direct stock report among the rest.
    let a = connect_token(&app, &s, &token(7, TokenType::Service)).await;
    assert_eq!(a.status, StatusCode::OK, "{a:#?}");
    let stock = capability(&a.body, "stock_wb_warehouses");
    assert_eq!(stock["available"], true);
    assert_eq!(stock["via"], "stocks_report_wb_warehouses");
    assert_eq!(stock["limit_row"], "service");
}

#[tokio::test]
async fn token_check_shows_what_a_base_token_can_sync_with_and_without_the_secret() {
    let wb = wb_ok().await;
    let with_secret = app_for(&wb.uri()).await;
    let s = with_secret.register("base@shop.ru", "Shop").await;
    let a = connect_token(&with_secret, &s, &token(8, TokenType::Base)).await;
    assert_eq!(a.status, StatusCode::OK, "{a:#?}");
    let stock = capability(&a.body, "stock_wb_warehouses");
    assert_eq!(
        (&stock["via"], &stock["limit_row"]),
        (
            &Value::from("stocks_report_wb_warehouses"),
            &Value::from("base-with-secret")
        )
    );

    let without = app_with(&wb, "WB_CLIENT_SECRETS", "").await;
    let s = without.register("base2@shop.ru", "Shop").await;
    let a = connect_token(&without, &s, &token(8, TokenType::Base)).await;
    let stock = capability(&a.body, "stock_wb_warehouses");
    assert_eq!(stock["via"], "warehouse_remains_create");
    assert_eq!(stock["limit_row"], "base");
    assert!(capability(&a.body, "orders")["note"].is_string());
}

#[tokio::test]
async fn token_policy_keeps_a_stored_personal_token_working_with_a_warning() {
    let wb = wb_ok().await;
    let app = production_policy(&wb).await;
    let s = app.register("legacy@shop.ru", "Shop").await;
    // Stored before the policy: a personal token, written as the owner.
    sqlx::query(
        "insert into wb_credentials (id, tenant_id, key_id, nonce, ciphertext, token_mask, seller_id,
                                     token_type, categories, read_only, test_token, expires_at)
         values (gen_random_uuid(), $1::uuid, 'test1', '\\x00', '\\x00', 'eyJh…abcd', 'seller',
                 'personal', '{content,analytics,marketplace,statistics}', true, false,
                 now() + interval '90 days')",
    )
    .bind(&s.tenant_id)
    .execute(&app.db.owner)
    .await
    .unwrap();
    let got = app.get("/api/v1/wb/credentials", &s.access).await;
    assert_eq!(got.status, StatusCode::OK, "{got:#?}");
    assert_eq!(got.body["status"], "active", "it keeps working");
    assert_eq!(
        got.body["warnings"],
        serde_json::json!(["token_type_not_accepted"])
    );
    assert!(
        got.body["token_guidance"]
            .as_str()
            .unwrap()
            .contains("base token")
    );
}
