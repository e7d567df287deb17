//! Issue 13: each api process keeps the answers and roles it has seen in its own memory, in
//! front of Redis, kept honest by invalidations published on Redis. These tests show that a
//! repeated read is answered without Redis, that a sync completed by the worker and a
//! member removed through another api process reach the layer, and that a lost
//! subscription leaves nothing behind that Redis would no longer serve.

use reqwest::{Method, StatusCode};
use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::db::redis_url;
use stock_tracker_tests::http::Api;
use stock_tracker_tests::process::sample;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};

const SELLER: i64 = 5151;

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Waits until the api's invalidation subscription is live (it subscribes after start).
async fn until_live(api: &Api) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !api.state.process_cache.is_live() {
        assert!(
            Instant::now() < deadline,
            "the process cache never went live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lookups(api: &Api, result: &str, layer: &str) -> f64 {
    let text = api.client.get(api.url("/metrics")).send().await.unwrap();
    let text = text.text().await.unwrap();
    sample(
        &text,
        &format!("stock_tracker_cache_lookups_total{{result=\"{result}\",layer=\"{layer}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Deletes every Redis entry of the tenant's cached reads (the version key stays).
async fn drop_redis_entries(prefix: &str, tenant: &str) -> usize {
    let mut conn = redis().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}cache:{tenant}:v*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    for k in &keys {
        let _: i64 = redis::cmd("DEL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    keys.len()
}

#[tokio::test]
async fn a_repeated_read_is_answered_by_the_process_until_a_sync_completes() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    until_live(app).await;
    let s = app.register("near@shop.ru", "Near shop").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    sync_and_wait(app, &s).await;

    let path = "/api/v1/stocks?limit=5";
    let first = app.get(path, &s.access).await;
    assert_eq!(first.headers["x-cache"], "MISS", "{first:#?}");
    // The answer went to Redis after the response; wait for it, then take it away: the
    // next answer can only come from this process.
    let deadline = Instant::now() + Duration::from_secs(5);
    while drop_redis_entries(&app.redis_prefix, &s.tenant_id).await == 0 {
        assert!(Instant::now() < deadline, "the answer never reached Redis");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = app.get(path, &s.access).await;
    assert_eq!(second.headers["x-cache"], "HIT");
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.headers["x-data-synced-at"],
        first.headers["x-data-synced-at"]
    );
    assert_eq!(lookups(app, "hit", "process").await, 1.0);
    assert_eq!(lookups(app, "hit", "redis").await, 0.0);

    // Another tenant asking the same question gets its own (empty) answer.
    let other = app.register("far@shop.ru", "Far shop").await;
    let theirs = app.get(path, &other.access).await;
    assert_eq!(theirs.headers["x-cache"], "MISS");
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);

    // The worker completes a sync with changed stock: its invalidation reaches this
    // process (over Redis pub/sub), which then answers from PostgreSQL.
    world.advance(SELLER, 3).await;
    sync_and_wait(app, &s).await;
    // (Without the message the answer would live out its 300 s TTL here.)
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let a = app.get(path, &s.access).await;
        if a.headers["x-cache"] == "MISS" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the process kept its answer after the sync"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_member_removed_through_one_api_process_is_refused_by_another_at_once() {
    let app = TestApp::spawn().await;
    let other_api = Api::serve(
        app.db.app_url(),
        vec![("REDIS_KEY_PREFIX".into(), app.redis_prefix.clone())],
    )
    .await;
    until_live(&app).await;
    until_live(&other_api).await;
    let owner = app.register("owner@shop.ru", "Two processes").await;
    let member = app.add_member(&owner, "member@shop.ru", "member").await;

    // The member's role is now kept by the other process.
    for _ in 0..2 {
        let ok = other_api.get("/api/v1/products", &member.access).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:#?}");
    }
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tenant/members/{}", member.user_id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:#?}");
    // The removing process refuses at once; the other as soon as the message arrives.
    let here = app.get("/api/v1/products", &member.access).await;
    assert_eq!(here.status, StatusCode::UNAUTHORIZED, "{here:#?}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let there = other_api.get("/api/v1/products", &member.access).await;
        if there.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the other process still accepts the removed member: {there:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_lost_subscription_forgets_everything_the_process_kept() {
    let app = TestApp::spawn().await;
    until_live(&app).await;
    let s = app.register("lost@shop.ru", "Lost messages").await;
    let path = "/api/v1/products?limit=3";
    assert_eq!(app.get(path, &s.access).await.headers["x-cache"], "MISS");
    assert_eq!(app.get(path, &s.access).await.headers["x-cache"], "HIT");
    assert_eq!(lookups(&app, "hit", "process").await, 1.0);

    // The tenant's Redis version moves on without a message (as if it was published while
    // this process was not listening), and the subscription drops.
    let mut conn = redis().await;
    let _: i64 = redis::cmd("INCR")
        .arg(format!("{}cache:{}:ver", app.redis_prefix, s.tenant_id))
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.process_cache.is_live() {
        assert!(
            Instant::now() < deadline,
            "the dropped subscription went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Dark: answers come from Redis (a miss: the version moved on), not from the process.
    assert_eq!(app.get(path, &s.access).await.headers["x-cache"], "MISS");
    // Live again after resubscribing, with nothing of before: the next answer is not the
    // process's old one.
    until_live(&app).await;
    let again = app.get(path, &s.access).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(lookups(&app, "hit", "process").await, 1.0);
}
