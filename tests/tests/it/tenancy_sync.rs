//! Cross-tenant checks with tenant A's data synced: tenant B, with its own valid tokens,
//! cannot see or touch anything of A's through any route in the OpenAPI document.

use reqwest::Method;
use stock_tracker_tests::tenancy_probe::TwoTenants;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};
use wb_sandbox::catalog;

#[tokio::test]
async fn tenant_b_reaches_nothing_of_tenant_a_through_any_documented_route() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let probe = TwoTenants::new(app).await;
    assert_eq!(
        connect_token(app, &probe.a, &world.token(7))
            .await
            .status
            .as_u16(),
        200
    );
    let run = sync_and_wait(app, &probe.a).await;
    assert_eq!(run["status"], "succeeded");
    let nm = catalog::products(7, &world.cfg)[0].nm_id;

    probe.assert_isolated_on_every_route().await;

    // B's lists are empty, and B cannot start a sync on A's token.
    for path in [
        "/api/v1/stocks",
        "/api/v1/products",
        "/api/v1/warehouses",
        "/api/v1/sizes",
        "/api/v1/sync/runs",
    ] {
        let a = app.get(path, &probe.b.access).await;
        assert_eq!(a.status.as_u16(), 200, "{path}");
        assert_eq!(
            a.body["items"].as_array().unwrap().len(),
            0,
            "{path}: {a:#?}"
        );
    }
    let filtered = app
        .get(&format!("/api/v1/stocks?nm_id={nm}"), &probe.b.access)
        .await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 0);
    let status = app.get("/api/v1/sync/status", &probe.b.access).await;
    assert!(status.body["last_success_at"].is_null());
    assert_eq!(status.body["credential_status"], "missing");
    app.call(Method::POST, "/api/v1/sync", Some(&probe.b.access), None)
        .await
        .problem(409, "credential_required");

    // A still has everything.
    let a_stock = app.get("/api/v1/stocks", &probe.a.access).await;
    assert!(!a_stock.body["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.get("/api/v1/wb/credentials", &probe.a.access)
            .await
            .status
            .as_u16(),
        200
    );
}
