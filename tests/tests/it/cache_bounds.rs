//! One tenant cannot flood the Redis every tenant shares (issue 11, item 10): a search is at
//! most 100 characters, and each tenant's cached answers per sync are bounded in number, so
//! a stream of distinct questions cannot evict other tenants' caches, rate budgets or login
//! counters.

use stock_tracker_tests::TestApp;

#[tokio::test]
async fn a_tenant_cannot_flood_the_shared_cache() {
    let app = TestApp::builder()
        .env("CACHE_MAX_ENTRIES_PER_TENANT", "5")
        .spawn()
        .await;
    let flood = app.register("flood@shop.ru", "Flood").await;
    let other = app.register("other@shop.ru", "Other").await;

    let long = "x".repeat(101);
    let refused = app
        .get(&format!("/api/v1/products?search={long}"), &flood.access)
        .await;
    assert_eq!(refused.problem(422, "invalid_query")["field"], "search");

    for i in 0..12 {
        let answer = app
            .get(&format!("/api/v1/products?search=q{i}"), &flood.access)
            .await;
        assert_eq!(answer.status, 200, "{answer:#?}");
    }
    let mut redis = redis::Client::open(stock_tracker_tests::db::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}cache:{}:v*", app.redis_prefix, flood.tenant_id))
        .query_async(&mut redis)
        .await
        .unwrap();
    let entries = keys.iter().filter(|k| !k.ends_with("#entries")).count();
    assert_eq!(entries, 5, "at most the bound is stored: {keys:?}");

    // Past the bound answers are still served, uncached; another tenant still caches.
    let past = app.get("/api/v1/products?search=q11", &flood.access).await;
    assert_eq!(past.status, 200);
    assert_eq!(past.headers["x-cache"], "MISS");
    for expected in ["MISS", "HIT"] {
        let answer = app.get("/api/v1/products?search=q1", &other.access).await;
        assert_eq!(answer.headers["x-cache"], expected);
    }
}
