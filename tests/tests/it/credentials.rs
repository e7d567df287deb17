//! `PUT/GET/DELETE /api/v1/wb/credentials`: which tokens are accepted, what is shown back.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use stock_tracker_tests::TestApp;
use stock_tracker_tests::wb_fake;
use stock_tracker_tests::world::{app_for, connect_token};
use wb_sandbox::{Category, TokenOptions, TokenType, mint_token};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn wb_ok() -> MockServer {
    let wb = MockServer::start().await;
    wb_fake::mount_ping(&wb).await;
    wb
}

#[tokio::test]
async fn a_good_token_is_checked_stored_masked_and_removable() {
    let wb = wb_ok().await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("cred@shop.ru", "Shop").await;
    let token = mint_token(&TokenOptions::demo(77));

    let saved = connect_token(&app, &s, &token).await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:#?}");
    assert!(!saved.text.contains(&token), "the token is never echoed");
    let v = &saved.body;
    assert_eq!(v["status"], "active");
    assert_eq!(v["token_type"], "personal");
    assert_eq!(v["read_only"], true);
    assert_eq!(
        v["categories"],
        json!(["content", "analytics", "marketplace", "statistics"])
    );
    assert!((178..=180).contains(&v["days_left"].as_i64().unwrap()));
    assert!(v["last_verified_at"].is_string());
    assert_eq!(v["warnings"], json!([]));
    let mask = v["token_mask"].as_str().unwrap();
    assert!(mask.starts_with(&token[..4]) && mask.ends_with(&token[token.len() - 4..]));
    assert_eq!(
        wb.received_requests().await.unwrap().len(),
        1,
        "exactly one /ping"
    );

    let got = app.get("/api/v1/wb/credentials", &s.access).await;
    assert_eq!(got.body["token_mask"], mask);
    assert!(!got.text.contains(&token));

    let del = app
        .call(
            Method::DELETE,
            "/api/v1/wb/credentials",
            Some(&s.access),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    app.get("/api/v1/wb/credentials", &s.access)
        .await
        .problem(404, "not_found");
    app.call(
        Method::DELETE,
        "/api/v1/wb/credentials",
        Some(&s.access),
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn unusable_tokens_are_refused_with_the_reason() {
    let wb = wb_ok().await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("bad@shop.ru", "Shop").await;
    let opts = |f: &dyn Fn(&mut TokenOptions)| {
        let mut o = TokenOptions::demo(5);
        f(&mut o);
        mint_token(&o)
    };

    for garbage in [
        "not a token",
        "a.b",
        "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.sig",
        "",
    ] {
        let a = connect_token(&app, &s, garbage).await;
        assert_eq!(
            a.problem(422, "token_not_jwt")["field"],
            "token",
            "{garbage}"
        );
    }
    let expired = opts(&|o| o.expires_at = Utc::now() - Duration::days(1));
    connect_token(&app, &s, &expired)
        .await
        .problem(422, "token_expired");

    let partial = opts(&|o| o.categories = vec![Category::Content, Category::Marketplace]);
    let a = connect_token(&app, &s, &partial).await;
    let p = a.problem(422, "token_missing_categories");
    assert_eq!(p["missing"], json!(["analytics", "statistics"]));
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("analytics, statistics")
    );

    // A token with write access works but is flagged.
    let writer = opts(&|o| o.read_only = false);
    let a = connect_token(&app, &s, &writer).await;
    assert_eq!(a.status, StatusCode::OK, "{a:#?}");
    assert_eq!(a.body["warnings"], json!(["write_access"]));

    // Nothing unusable was stored: the one stored token is the writer.
    assert_eq!(
        app.get("/api/v1/wb/credentials", &s.access).await.body["read_only"],
        false
    );
    assert_eq!(
        wb.received_requests().await.unwrap().len(),
        1,
        "refused tokens never reach WB"
    );
}

#[tokio::test]
async fn test_tokens_are_refused_unless_wb_is_the_sandbox() {
    let wb = wb_ok().await;
    let prod = TestApp::builder()
        .env("WB_BASE_URL", &wb.uri())
        .spawn()
        .await;
    let s = prod.register("t@shop.ru", "Shop").await;
    let mut o = TokenOptions::demo(5);
    o.token_type = TokenType::Test;
    o.test = true;
    let test_token = mint_token(&o);
    connect_token(&prod, &s, &test_token)
        .await
        .problem(422, "token_test_not_allowed");
    let sandboxed = app_for(&wb.uri()).await;
    let s2 = sandboxed.register("t@shop.ru", "Shop").await;
    assert_eq!(
        connect_token(&sandboxed, &s2, &test_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn wb_has_the_last_word_on_a_token() {
    let wb = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"title":"unauthorized"}"#))
        .mount(&wb)
        .await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("rej@shop.ru", "Shop").await;
    let token = mint_token(&TokenOptions::demo(5));
    connect_token(&app, &s, &token)
        .await
        .problem(422, "token_rejected");

    wb.reset().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&wb)
        .await;
    let down = connect_token(&app, &s, &token).await;
    down.problem(503, "wb_unavailable");
    assert!(down.headers.contains_key("retry-after"));
    app.get("/api/v1/wb/credentials", &s.access)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn only_owners_and_admins_manage_the_token() {
    let wb = wb_ok().await;
    let app = app_for(&wb.uri()).await;
    let owner = app.register("o@shop.ru", "Shop").await;
    let token = mint_token(&TokenOptions::demo(5));
    for role in ["member", "viewer"] {
        let m = app
            .add_member(&owner, &format!("{role}@shop.ru"), role)
            .await;
        connect_token(&app, &m, &token)
            .await
            .problem(403, "forbidden");
        app.call(
            Method::DELETE,
            "/api/v1/wb/credentials",
            Some(&m.access),
            None,
        )
        .await
        .problem(403, "forbidden");
    }
    let admin = app.add_member(&owner, "admin@shop.ru", "admin").await;
    assert_eq!(
        connect_token(&app, &admin, &token).await.status,
        StatusCode::OK
    );
    // Everyone in the tenant may see the mask.
    let viewer = app.add_member(&owner, "v2@shop.ru", "viewer").await;
    assert_eq!(
        app.get("/api/v1/wb/credentials", &viewer.access)
            .await
            .status,
        StatusCode::OK
    );
}

/// Issue 11, item 12: each WB seller account gets one free trial, however many tenants
/// connect it. A second tenant on its free trial cannot connect the same seller account;
/// once it subscribes it can, and the first tenant keeps its own.
#[tokio::test]
async fn a_seller_account_gets_one_free_trial_however_many_tenants_connect_it() {
    let wb = wb_ok().await;
    let app = app_for(&wb.uri()).await;
    let first = app.register("first@shop.ru", "First").await;
    let second = app.register("second@shop.ru", "Second").await;
    let token = mint_token(&TokenOptions::demo(4242));

    assert_eq!(
        connect_token(&app, &first, &token).await.status,
        StatusCode::OK
    );
    let refused = connect_token(&app, &second, &token).await;
    assert_eq!(refused.problem(409, "seller_trial_used")["field"], "token");
    // Many sign-ups racing for the same seller account's trial: one tenant at most wins.
    let mut racers = Vec::new();
    for i in 0..6 {
        racers.push(app.register(&format!("racer{i}@shop.ru"), "Racer").await);
    }
    let other_seller = mint_token(&TokenOptions::demo(4343));
    let answers =
        futures::future::join_all(racers.iter().map(|s| connect_token(&app, s, &other_seller)))
            .await;
    let won = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{answers:#?}");
    for lost in answers.iter().filter(|a| a.status != StatusCode::OK) {
        lost.problem(409, "seller_trial_used");
    }

    // The first tenant reconnects its own seller account (a new token) freely.
    app.call(
        Method::DELETE,
        "/api/v1/wb/credentials",
        Some(&first.access),
        None,
    )
    .await;
    let renewed = mint_token(&TokenOptions::demo(4242));
    assert_eq!(
        connect_token(&app, &first, &renewed).await.status,
        StatusCode::OK
    );

    // A paying tenant may connect any seller account.
    sqlx::query(
        "update subscriptions set status = 'active', stripe_customer_id = 'cus_second',
                stripe_subscription_id = 'sub_second' where tenant_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&second.tenant_id).unwrap())
    .execute(&app.db.owner)
    .await
    .unwrap();
    let paid = connect_token(&app, &second, &token).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:#?}");
}
