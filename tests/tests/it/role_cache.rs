//! Issue 11, items 5a and 7: the role cache cannot bring back a removed member's role (its
//! writes are conditional on the membership version), and it is never the sole authority
//! for a privilege (entries are signed; a forged one is ignored).

use reqwest::{Method, StatusCode};
use stock_tracker_api::auth::role_cache;
use stock_tracker_shared::ids::{TenantId, UserId};
use stock_tracker_tests::{Session, TestApp};

fn ids(s: &Session) -> (TenantId, UserId) {
    (
        TenantId(s.tenant_id.parse().unwrap()),
        UserId(s.user_id.parse().unwrap()),
    )
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(stock_tracker_tests::db::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn entry_key(app: &TestApp, s: &Session) -> String {
    format!("{}role:{}:{}", app.redis_prefix, s.tenant_id, s.user_id)
}

/// The interleaving of the race, step by step: a request reads the admin's role from
/// PostgreSQL; the removal commits and clears the cache; then the request writes what it
/// read. The stale write must not bring the role back.
#[tokio::test]
async fn a_role_read_before_a_removal_is_not_cached_after_it() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    let admin = app.add_member(&owner, "admin@shop.ru", "admin").await;
    let (tenant, user) = ids(&admin);

    // 1. A request of the admin's misses the cache and reads the role (the extractor's read).
    let stale = role_cache::read(&app.state.db, tenant, user)
        .await
        .unwrap()
        .expect("still a member");
    // 2. The admin is removed: committed, and the cache told.
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tenant/members/{}", admin.user_id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:#?}");
    // 3. The request writes the role it read before the removal.
    app.state.roles.put(tenant, user, stale).await;

    assert_eq!(app.state.roles.get(tenant, user).await, None);
    app.get("/api/v1/api-keys", &admin.access)
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", &admin.access)
        .await
        .problem(401, "unauthorized");
}

/// Someone who can write to Redis plants an `owner` entry for a viewer: in the old plain
/// format, in the entry format with a made-up signature, and as a copy of the owner's own
/// valid entry. None of them makes the viewer a manager.
#[tokio::test]
async fn a_forged_role_cache_entry_grants_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    let viewer = app.add_member(&owner, "viewer@shop.ru", "viewer").await;
    let mut conn = redis().await;
    // The owner's request caches the owner's (signed) entry.
    assert_eq!(
        app.get("/api/v1/tenant/invitations", &owner.access)
            .await
            .status,
        StatusCode::OK
    );
    let owners_entry: String = redis::cmd("GET")
        .arg(entry_key(&app, &owner))
        .query_async(&mut conn)
        .await
        .unwrap();
    let far = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let forged = [
        "owner".to_string(),
        format!("999999999|owner|{far}|{}", "ab".repeat(32)),
        format!("999999999|owner|{far}"),
        owners_entry,
    ];
    for entry in forged {
        let _: () = redis::cmd("SET")
            .arg(entry_key(&app, &viewer))
            .arg(&entry)
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .unwrap();
        for path in ["/api/v1/tenant/invitations", "/api/v1/api-keys"] {
            app.get(path, &viewer.access)
                .await
                .problem(403, "forbidden");
        }
        app.call(
            Method::DELETE,
            &format!("/api/v1/tenant/members/{}", owner.user_id),
            Some(&viewer.access),
            None,
        )
        .await
        .problem(403, "forbidden");
    }
    assert_eq!(
        app.get("/api/v1/tenant/members", &owner.access).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
