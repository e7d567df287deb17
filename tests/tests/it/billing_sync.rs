//! The plan's product limit, end to end: a sync through the real worker and the WB
//! sandbox keeps at most the plan's products and says so on its run.

use serde_json::json;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};
use uuid::Uuid;

#[tokio::test]
async fn a_sync_keeps_at_most_the_plans_products_and_records_the_limit() {
    let mut cfg = small_sandbox();
    cfg.products = 130;
    cfg.sizes_per_product = 1;
    let world = SandboxWorld::start(cfg).await;
    let app = &world.app;
    let s = app.register("limit@shop.ru", "Shop").await;
    connect_token(app, &s, &world.token(41)).await;
    // On the pro trial (1,000 products) the whole catalogue fits.
    let full = sync_and_wait(app, &s).await;
    assert_eq!(full["status"], "succeeded", "{full:#?}");
    assert_eq!(full["products"], 130);
    assert_eq!(full["product_limit"], 1000);
    assert_eq!(full["product_limit_reached"], false);

    sqlx::query(
        "update subscriptions set plan = 'starter', status = 'active' where tenant_id = $1",
    )
    .bind(Uuid::parse_str(&s.tenant_id).unwrap())
    .execute(&app.db.owner)
    .await
    .unwrap();
    let limited = sync_and_wait(app, &s).await;
    assert_eq!(limited["status"], "succeeded", "{limited:#?}");
    assert_eq!(limited["products"], 100);
    assert_eq!(limited["product_limit"], 100);
    assert_eq!(limited["product_limit_reached"], true);
    assert!(
        limited["error_message"]
            .as_str()
            .unwrap()
            .contains("starter")
    );
    let usage = app.get("/api/v1/billing/usage", &s.access).await;
    assert_eq!(usage.body["products"], json!({"used": 100, "limit": 100}));
}
