//! The request budget of issue 12: WB requests per sync for a seller with 1,000 and 10,000
//! products, each figure beside its budget:
//!
//! - the first sync (every card, both stock reports);
//! - an unchanged re-sync once WB's stock reports are due again (budget 3);
//! - a re-sync after 100 cards changed (budget 4);
//! - for comparison, an unchanged re-sync inside the reports' 30-minute refresh window.
//!
//! Runs the real api and worker in this process against the WB sandbox (limits off), under
//! the worker's default policy; "30 minutes later" is made by moving the stored report fetch
//! times back. Requests are counts, not timings, so the profile does not matter:
//! `scripts/bench.sh requests` runs it unoptimised. Prints figures; asserts nothing.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use stock_tracker_shared::sync::Policy;
use stock_tracker_tests::world::{SandboxWorld, connect_token, sync_and_wait};
use uuid::Uuid;
use wb_sandbox::SandboxConfig;

const SELLER: i64 = 777;
const CHANGED: usize = 100;

fn sandbox(products: u32) -> SandboxConfig {
    SandboxConfig {
        products,
        sizes_per_product: 5,
        wb_warehouses: 4,
        seller_warehouses: 1,
        rate_limit_scale: 0.0,
        drain_every: std::time::Duration::ZERO,
    }
}

fn methods(run: &Value) -> String {
    run["wb_requests_by_method"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn seller(products: u32) -> Vec<(&'static str, Value, Option<u64>)> {
    let world = SandboxWorld::start_with(sandbox(products), |c| {
        c.sync_policy = Policy::default();
        // An unoptimised sandbox writing a 200,000-row report can take longer than the
        // tests' 1.5 s; a timeout would retry, and a retry is a request.
        c.wb.timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let app = &world.app;
    // The enterprise plan tracks up to 10,000 products.
    let s = app.register("bench@shop.ru", "Bench").await;
    let tenant = Uuid::parse_str(&s.tenant_id).unwrap();
    sqlx::query(
        "update subscriptions set plan = 'enterprise', status = 'active' where tenant_id = $1",
    )
    .bind(tenant)
    .execute(&app.db.owner)
    .await
    .unwrap();
    connect_token(app, &s, &world.token(SELLER)).await;
    // Saving the token checked it with /ping; the syncs' requests are counted from here.
    let before: u64 = world.requests(SELLER).await.values().sum();
    let reports_due = || async {
        sqlx::query(
            "update sync_stock_fetches set fetched_at = fetched_at - interval '31 minutes'
              where tenant_id = $1",
        )
        .bind(tenant)
        .execute(&app.db.owner)
        .await
        .unwrap();
    };
    let mut rows = Vec::new();
    let first = sync_and_wait(app, &s).await;
    rows.push(("first sync", first, None));
    world.advance(SELLER, 2).await;
    let inside = sync_and_wait(app, &s).await;
    rows.push(("unchanged, within 30 min", inside, None));
    reports_due().await;
    let unchanged = sync_and_wait(app, &s).await;
    rows.push(("unchanged re-sync", unchanged, Some(3)));
    world.edit_cards(SELLER, CHANGED, 0).await;
    reports_due().await;
    let changed = sync_and_wait(app, &s).await;
    rows.push(("100 changed cards", changed, Some(4)));
    let sandbox_total: u64 = world.requests(SELLER).await.values().sum::<u64>() - before;
    let runs_total: u64 = rows
        .iter()
        .map(|(_, r, _)| r["wb_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sandbox_total, runs_total,
        "the runs count what the sandbox saw"
    );
    world.worker.stop().await;
    rows
}

#[tokio::main]
async fn main() {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    println!("\n== WB requests per sync (issue 12) ==");
    for products in [1_000, 10_000] {
        let cfg = sandbox(products);
        println!(
            "\nseller with {products} products ({} sizes, {} WB and {} own warehouses: {} + {} stock rows)",
            cfg.sizes_per_product,
            cfg.wb_warehouses,
            cfg.seller_warehouses,
            cfg.wb_stock_rows(),
            u64::from(products * cfg.sizes_per_product * cfg.seller_warehouses),
        );
        for (label, run, budget) in seller(products).await {
            assert_eq!(run["status"], "succeeded", "{run:#}");
            let n = run["wb_requests"].as_u64().unwrap();
            let verdict = match budget {
                Some(b) if n <= b => format!("budget <= {b}: ok"),
                Some(b) => format!("budget <= {b}: OVER"),
                None => String::new(),
            };
            println!(
                "  {label:<26} WB requests {n:>4}   {verdict:<16} {} listing; {}",
                run["cards_listing"].as_str().unwrap_or("-"),
                methods(&run)
            );
        }
    }
}
