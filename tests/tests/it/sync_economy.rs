//! Request economy (issue 12), end to end through the real worker and the WB sandbox, which
//! counts the requests it receives: an unchanged seller re-syncs in 3 requests, 100 changed
//! cards in 4, stock reports are not asked for again inside WB's 30-minute refresh, deleted
//! cards go with the daily full listing, and base tokens keep their fallbacks.

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use stock_tracker_shared::sync::Policy;
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::Session;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};
use uuid::Uuid;
use wb_sandbox::catalog;

const SELLER: i64 = 5151;
const CARDS: &str = "/content/v2/get/cards/list";

/// Requests the sandbox received between two snapshots of its counters.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn by_method(run: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(run["wb_requests_by_method"].clone()).expect("by method")
}

/// Syncs and returns the run with the requests the sandbox saw meanwhile; asserts the run
/// counted exactly those.
async fn sync_counted(world: &SandboxWorld, s: &Session) -> (Value, BTreeMap<String, u64>) {
    let before = world.requests(SELLER).await;
    let run = sync_and_wait(&world.app, s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let seen = delta(&before, &world.requests(SELLER).await);
    let total: u64 = seen.values().sum();
    assert_eq!(
        run["wb_requests"].as_u64(),
        Some(total),
        "{run:#} vs {seen:?}"
    );
    assert_eq!(
        by_method(&run).values().sum::<u64>(),
        total,
        "{run:#} vs {seen:?}"
    );
    (run, seen)
}

async fn tenant_owner_update(app: &TestApp, s: &Session, sql: &'static str) {
    sqlx::query(sql)
        .bind(Uuid::parse_str(&s.tenant_id).unwrap())
        .execute(&app.db.owner)
        .await
        .unwrap();
}

async fn product_count(app: &TestApp, s: &Session) -> i64 {
    let usage = app.get("/api/v1/billing/usage", &s.access).await;
    usage.body["products"]["used"].as_i64().unwrap()
}

#[tokio::test]
async fn unchanged_resync_costs_three_requests_and_a_hundred_changed_cards_four() {
    let mut cfg = small_sandbox();
    cfg.products = 1000;
    cfg.sizes_per_product = 2;
    cfg.wb_warehouses = 2;
    cfg.seller_warehouses = 2;
    let world = SandboxWorld::start(cfg).await;
    let app = &world.app;
    let s = app.register("economy@shop.ru", "Economy").await;
    connect_token(app, &s, &world.token(SELLER)).await;

    let (first, seen) = sync_counted(&world, &s).await;
    assert_eq!(first["cards_listing"], "full");
    assert_eq!(first["products"], 1000);
    // 10 full pages and the empty one that ends the listing; one report per kind of stock.
    assert_eq!(seen[CARDS], 11, "{seen:?}");
    assert_eq!(
        seen["/api/analytics/v1/stocks-report/seller-warehouses"], 1,
        "one report instead of a call per warehouse and 1000 sizes: {seen:?}"
    );
    assert!(
        !seen.contains_key("/api/v3/stocks/{warehouseId}"),
        "{seen:?}"
    );
    assert!(!seen.contains_key("/api/v3/warehouses"), "{seen:?}");

    let (unchanged, seen) = sync_counted(&world, &s).await;
    assert_eq!(unchanged["wb_requests"], 3, "{unchanged:#} {seen:?}");
    assert_eq!(unchanged["cards_listing"], "incremental");
    assert_eq!(
        by_method(&unchanged),
        BTreeMap::from([
            ("cards_list".to_string(), 1),
            ("stocks_report_seller_warehouses".to_string(), 1),
            ("stocks_report_wb_warehouses".to_string(), 1),
        ])
    );
    assert_eq!(unchanged["products"], 1000, "merged, not replaced");
    assert_eq!(unchanged["stock_rows"], first["stock_rows"]);
    assert_eq!(unchanged["stock_changes"], 0);

    let (touched, _) = world.edit_cards(SELLER, 100, 0).await;
    let (changed, seen) = sync_counted(&world, &s).await;
    assert_eq!(changed["wb_requests"], 4, "{changed:#} {seen:?}");
    assert_eq!(seen[CARDS], 2, "a full page of 100, then the empty one");
    assert_eq!(changed["products"], 1000);
    let detail = app
        .get(&format!("/api/v1/products/{}", touched[0]), &s.access)
        .await;
    assert!(
        detail.body["title"]
            .as_str()
            .unwrap()
            .ends_with("(изменено)"),
        "the changed card is stored: {detail:#?}"
    );
    assert_eq!(product_count(app, &s).await, 1000);

    // The runs API and the daily view show the same counts.
    let runs = app.get("/api/v1/sync/runs", &s.access).await;
    assert_eq!(
        runs.body["items"][0]["wb_requests_by_method"]["cards_list"],
        2
    );
    let (daily,): (i64,) =
        sqlx::query_as("select sum(requests)::bigint from wb_requests_daily where tenant_id = $1")
            .bind(Uuid::parse_str(&s.tenant_id).unwrap())
            .fetch_one(&app.db.owner)
            .await
            .unwrap();
    let total: i64 = [&first, &unchanged, &changed]
        .iter()
        .map(|r| r["wb_requests"].as_i64().unwrap())
        .sum();
    assert_eq!(daily, total);
    let metrics = reqwest::get(&world.worker.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stock_tracker_sync_wb_requests_count 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn stock_reports_are_not_asked_again_within_their_refresh_window() {
    let world = SandboxWorld::start_with_policy(small_sandbox(), Policy::default()).await;
    let app = &world.app;
    let s = app.register("window@shop.ru", "Window").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    let (first, _) = sync_counted(&world, &s).await;
    assert!(first["stock_reused_from"].is_null());
    let stock_before = app.get("/api/v1/stocks?limit=200", &s.access).await.body;

    // Stock moves at WB, but its report is not due again for 30 minutes.
    world.advance(SELLER, 5).await;
    let (manual, seen) = sync_counted(&world, &s).await;
    assert_eq!(manual["trigger"], "manual");
    assert_eq!(manual["wb_requests"], 1, "only the card listing: {seen:?}");
    assert_eq!(seen.keys().collect::<Vec<_>>(), [CARDS]);
    assert!(manual["stock_reused_from"].is_string(), "{manual:#}");
    assert_eq!(manual["stock_source"], "stocks_report");
    assert!(
        manual["error_message"]
            .as_str()
            .unwrap()
            .contains("every 30 minutes"),
        "the run says so: {manual:#}"
    );
    assert_eq!(manual["stock_changes"], 0);
    assert_eq!(manual["stock_rows"], first["stock_rows"]);
    let stock_kept = app.get("/api/v1/stocks?limit=200", &s.access).await.body;
    assert_eq!(stock_kept["items"], stock_before["items"]);

    // Half an hour later both reports are read again and the new stock lands.
    tenant_owner_update(
        app,
        &s,
        "update sync_stock_fetches set fetched_at = fetched_at - interval '31 minutes'
          where tenant_id = $1",
    )
    .await;
    let (later, seen) = sync_counted(&world, &s).await;
    assert_eq!(later["wb_requests"], 3, "{seen:?}");
    assert!(later["stock_reused_from"].is_null());
    assert!(later["history_rows"].as_i64().unwrap() > 0, "{later:#}");
    let tick = world.tick(SELLER).await;
    let want: i64 = catalog::wb_warehouse_stock(SELLER, &world.cfg, tick)
        .iter()
        .map(|r| i64::from(r.quantity))
        .sum::<i64>()
        + catalog::seller_stock(SELLER, &world.cfg, tick)
            .iter()
            .map(|r| i64::from(r.amount))
            .sum::<i64>();
    let got: i64 = app.get("/api/v1/stocks?limit=200", &s.access).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(got, want);
}

#[tokio::test]
async fn deleted_cards_go_with_the_daily_full_listing_only() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("trash@shop.ru", "Trash").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    sync_counted(&world, &s).await;
    assert_eq!(product_count(app, &s).await, 12);

    let (_, trashed) = world.edit_cards(SELLER, 1, 2).await;
    let (incremental, _) = sync_counted(&world, &s).await;
    assert_eq!(incremental["cards_listing"], "incremental");
    assert_eq!(
        product_count(app, &s).await,
        12,
        "a listing of changes cannot see deletions"
    );

    tenant_owner_update(
        app,
        &s,
        "update sync_cards_state set full_listing_at = full_listing_at - interval '25 hours'
          where tenant_id = $1",
    )
    .await;
    let (full, _) = sync_counted(&world, &s).await;
    assert_eq!(full["cards_listing"], "full");
    assert_eq!(product_count(app, &s).await, 10);
    for nm in trashed {
        let gone = app.get(&format!("/api/v1/products/{nm}"), &s.access).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
    // The full listing restarts the day: the next sync lists changes only again.
    let (next, _) = sync_counted(&world, &s).await;
    assert_eq!(next["cards_listing"], "incremental");
}

#[tokio::test]
async fn base_tokens_keep_the_per_warehouse_calls_and_map_them_after_an_incremental_listing() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("base-economy@shop.ru", "Base").await;
    let mut opts = wb_sandbox::TokenOptions::demo(SELLER);
    opts.token_type = wb_sandbox::TokenType::Base;
    connect_token(app, &s, &wb_sandbox::mint_token(&opts)).await;
    sync_counted(&world, &s).await;
    world.advance(SELLER, 4).await;
    let (second, seen) = sync_counted(&world, &s).await;
    assert_eq!(second["cards_listing"], "incremental");
    assert!(
        !seen.contains_key("/api/analytics/v1/stocks-report/seller-warehouses"),
        "base tokens may not use the report: {seen:?}"
    );
    assert!(
        seen.contains_key("/api/v3/stocks/{warehouseId}"),
        "{seen:?}"
    );

    // Every size's seller stock is there, though this listing returned no card.
    let tick = world.tick(SELLER).await;
    let want: BTreeMap<(i64, i64), i64> = catalog::seller_stock(SELLER, &world.cfg, tick)
        .into_iter()
        .map(|r| ((r.warehouse_id, r.chrt_id), i64::from(r.amount)))
        .collect();
    let got: BTreeMap<(i64, i64), i64> = app
        .get("/api/v1/stocks?kind=seller&limit=200", &s.access)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["warehouse_id"].as_i64().unwrap(),
                    r["chrt_id"].as_i64().unwrap(),
                ),
                r["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let wb_rows = app.get("/api/v1/stocks?kind=wb&limit=200", &s.access).await;
    assert!(
        !wb_rows.body["items"].as_array().unwrap().is_empty(),
        "warehouse_remains rows are mapped through the stored sizes"
    );
}
