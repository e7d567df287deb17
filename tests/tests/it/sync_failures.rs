//! What a sync does when Wildberries misbehaves: retried, recorded with a reason, and the
//! previous data left exactly as it was.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::Session;
use stock_tracker_tests::wb_fake::{self, NM_ID};
use stock_tracker_tests::world::{Worker, app_for, connect_token, sync_and_wait};
use wb_sandbox::TokenOptions;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Scene {
    wb: MockServer,
    app: TestApp,
    s: Session,
    _worker: Worker,
}

/// A tenant with a token and one successful sync of quantity 7.
async fn synced_scene() -> Scene {
    let wb = MockServer::start().await;
    wb_fake::mount_healthy(&wb, 7).await;
    let app = app_for(&wb.uri()).await;
    let worker = Worker::start(&app, &wb.uri()).await;
    let s = app.register("fail@shop.ru", "Fail shop").await;
    let saved = connect_token(&app, &s, &wb_sandbox::mint_token(&TokenOptions::demo(9))).await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:#?}");
    let run = sync_and_wait(&app, &s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    Scene {
        wb,
        app,
        s,
        _worker: worker,
    }
}

async fn quantity(scene: &Scene) -> Vec<i64> {
    let a = scene.app.get("/api/v1/stocks", &scene.s.access).await;
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["quantity"].as_i64().unwrap())
        .collect()
}

/// The product and stock are those of the first sync: a failed run wrote nothing.
async fn assert_nothing_written(scene: &Scene) {
    let product = scene
        .app
        .get(&format!("/api/v1/products/{NM_ID}"), &scene.s.access)
        .await;
    assert_eq!(
        product.body["vendor_code"], "VC-A",
        "nothing from the failed run was written"
    );
    assert_eq!(quantity(scene).await, vec![7]);
}

async fn remount(scene: &Scene, cards: ResponseTemplate, stocks: ResponseTemplate) {
    scene.wb.reset().await;
    wb_fake::mount_ping(&scene.wb).await;
    Mock::given(method("POST"))
        .and(path("/content/v2/get/cards/list"))
        .respond_with(cards)
        .mount(&scene.wb)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/wb-warehouses"))
        .respond_with(stocks)
        .mount(&scene.wb)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&scene.wb)
        .await;
    wb_fake::mount_no_seller_stock(&scene.wb).await;
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn requests_to(scene: &Scene, p: &str) -> usize {
    scene
        .wb
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn server_errors_are_retried_then_fail_the_run_and_keep_the_data() {
    let scene = synced_scene().await;
    remount(
        &scene,
        ResponseTemplate::new(503),
        ok(wb_fake::stocks_report(1)),
    )
    .await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "wb_unavailable");
    assert!(run["error_message"].as_str().unwrap().len() > 10);
    assert_eq!(
        requests_to(&scene, "/content/v2/get/cards/list").await,
        4,
        "1 try + 3 retries"
    );
    assert_eq!(quantity(&scene).await, vec![7], "previous data intact");

    // WB recovers: the next sync succeeds by itself.
    remount(
        &scene,
        ok(wb_fake::cards("B")),
        ok(wb_fake::stocks_report(5)),
    )
    .await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(quantity(&scene).await, vec![5]);
}

#[tokio::test]
async fn timeouts_are_retried_then_fail_the_run() {
    let scene = synced_scene().await;
    let slow = ok(wb_fake::cards("A")).set_delay(Duration::from_secs(3));
    remount(&scene, slow, ok(wb_fake::stocks_report(1))).await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "wb_timeout");
    assert_eq!(quantity(&scene).await, vec![7]);
}

#[tokio::test]
async fn a_429_is_waited_out_as_ratelimit_retry_says() {
    let scene = synced_scene().await;
    remount(
        &scene,
        ok(wb_fake::cards("A")),
        ok(wb_fake::stocks_report(3)),
    )
    .await;
    // The first stock report call is refused with "retry in 2 s", then it passes.
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/wb-warehouses"))
        .respond_with(wb_fake::too_many(2))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&scene.wb)
        .await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["wb_rate_limited"], 1);
    assert_eq!(quantity(&scene).await, vec![3]);
    let times: Vec<_> = scene
        .wb
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("wb-warehouses"))
        .collect();
    assert_eq!(
        times.len(),
        2,
        "the 429, then one retry (reset() forgot the first sync)"
    );
    // wiremock records no timestamps; the run's duration shows the wait was honoured.
    assert!(run["duration_ms"].as_i64().unwrap() >= 2000, "{run:#}");
}

#[tokio::test]
async fn malformed_json_fails_with_wb_bad_response_and_writes_nothing() {
    let scene = synced_scene().await;
    // New cards would rename the product; the broken stock report must stop all of it.
    remount(
        &scene,
        ok(wb_fake::cards("RENAMED")),
        ResponseTemplate::new(200).set_body_string(r#"{"data": {"items": [{"nmId": 1,"#),
    )
    .await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "wb_bad_response");
    assert_eq!(
        requests_to(&scene, "/api/analytics/v1/stocks-report/wb-warehouses").await,
        1,
        "not retried"
    );
    assert_nothing_written(&scene).await;
}

#[tokio::test]
async fn a_card_without_a_size_id_fails_naming_the_field_and_writes_nothing() {
    let scene = synced_scene().await;
    // The renamed card carries the fields WB added in autumn 2026 (ignored) and lacks the
    // one we key stock by.
    let mut cards = wb_fake::cards("RENAMED");
    cards["cards"][0]["documents"] = json!({"certificates": [], "declarations": []});
    cards["cards"][0]["gtin"] = json!("04601234567890");
    cards["cards"][0]["sizes"][0]
        .as_object_mut()
        .unwrap()
        .remove("chrtID");
    remount(&scene, ok(cards), ok(wb_fake::stocks_report(99))).await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error_code"], "wb_bad_response");
    let message = run["error_message"].as_str().unwrap();
    assert!(message.contains("`cards[0].sizes[0].chrtID`"), "{message}");
    assert_eq!(
        requests_to(&scene, "/content/v2/get/cards/list").await,
        1,
        "not retried"
    );
    assert_nothing_written(&scene).await;
}

#[tokio::test]
async fn a_401_invalidates_the_credential_and_stops_syncing_until_replaced() {
    let scene = synced_scene().await;
    remount(
        &scene,
        ResponseTemplate::new(401),
        ok(wb_fake::stocks_report(1)),
    )
    .await;
    // The token was revoked: WB's /ping refuses it too, so the 401 is the token's, not our
    // service secret's (see wb_service_unpaid.rs for the other case).
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&scene.wb)
        .await;
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "wb_unauthorized");
    assert_eq!(
        requests_to(&scene, "/content/v2/get/cards/list").await,
        1,
        "never retried"
    );

    let cred = scene
        .app
        .get("/api/v1/wb/credentials", &scene.s.access)
        .await;
    assert_eq!(cred.body["status"], "invalid");
    assert_eq!(cred.body["last_error_code"], "wb_unauthorized");
    let status = scene.app.get("/api/v1/sync/status", &scene.s.access).await;
    assert_eq!(status.body["credential_status"], "invalid");
    assert!(status.body["next_due_at"].is_null(), "nothing is scheduled");
    scene
        .app
        .post("/api/v1/sync", Some(&scene.s.access), json!({}))
        .await
        .problem(409, "credential_invalid");
    assert_eq!(quantity(&scene).await, vec![7]);

    // A new token brings it back.
    remount(
        &scene,
        ok(wb_fake::cards("A")),
        ok(wb_fake::stocks_report(2)),
    )
    .await;
    let saved = connect_token(
        &scene.app,
        &scene.s,
        &wb_sandbox::mint_token(&TokenOptions::demo(9)),
    )
    .await;
    assert_eq!(saved.body["status"], "active");
    let run = sync_and_wait(&scene.app, &scene.s).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(quantity(&scene).await, vec![2]);
}

#[tokio::test]
async fn a_second_sync_while_one_is_queued_is_409() {
    // No worker: the first run stays queued.
    let wb = MockServer::start().await;
    wb_fake::mount_healthy(&wb, 1).await;
    let app = app_for(&wb.uri()).await;
    let s = app.register("busy@shop.ru", "Busy").await;
    app.post("/api/v1/sync", Some(&s.access), json!({}))
        .await
        .problem(409, "credential_required");
    connect_token(&app, &s, &wb_sandbox::mint_token(&TokenOptions::demo(9))).await;
    let first = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(
        first.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(first.body["run_id"].as_str().unwrap())
    );
    let second = app.post("/api/v1/sync", Some(&s.access), json!({})).await;
    let p = second.problem(409, "sync_in_progress");
    assert_eq!(p["run_id"], first.body["run_id"]);
    let status = app.get("/api/v1/sync/status", &s.access).await;
    assert_eq!(status.body["running"], true);
    // A viewer cannot start syncs at all.
    let viewer = app.add_member(&s, "v@shop.ru", "viewer").await;
    app.call(Method::POST, "/api/v1/sync", Some(&viewer.access), None)
        .await
        .problem(403, "forbidden");
}
