//! End to end: register, connect a sandbox token, sync through the real queue and worker,
//! and read back exactly what the sandbox serves.

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::Session;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};
use wb_sandbox::catalog;

const SELLER: i64 = 4242;

/// Every page of a list endpoint.
async fn all_items(app: &TestApp, s: &Session, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let page = app.get(&url, &s.access).await;
        assert_eq!(page.status, StatusCode::OK, "{page:#?}");
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

type StockKey = (String, i64, i64);

fn expected_stock(world: &SandboxWorld, tick: u64) -> BTreeMap<StockKey, i64> {
    let mut expected = BTreeMap::new();
    for r in catalog::wb_warehouse_stock(SELLER, &world.cfg, tick) {
        *expected
            .entry(("wb".to_string(), r.warehouse_id, r.chrt_id))
            .or_insert(0) += i64::from(r.quantity);
    }
    for r in catalog::seller_stock(SELLER, &world.cfg, tick) {
        expected.insert(
            ("seller".to_string(), r.warehouse_id, r.chrt_id),
            i64::from(r.amount),
        );
    }
    expected
}

async fn actual_stock(world: &SandboxWorld, s: &Session) -> BTreeMap<StockKey, i64> {
    all_items(&world.app, s, "/api/v1/stocks")
        .await
        .into_iter()
        .map(|r| {
            (
                (
                    r["kind"].as_str().unwrap().to_string(),
                    r["warehouse_id"].as_i64().unwrap(),
                    r["chrt_id"].as_i64().unwrap(),
                ),
                r["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sync_mirrors_the_sandbox_and_a_second_sync_records_the_changes() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("seller@shop.ru", "Sandbox shop").await;
    let saved = connect_token(app, &s, &world.token(SELLER)).await;
    assert_eq!(saved.status, StatusCode::OK, "{saved:#?}");

    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["stock_source"], "stocks_report");
    // One page of cards, one report per kind of stock.
    assert_eq!(run["wb_requests"], 3, "{run:#}");

    // Products and sizes, exactly.
    let expected_products = catalog::products(SELLER, &world.cfg);
    let products = all_items(app, &s, "/api/v1/products").await;
    let got: BTreeSet<(i64, String, String, String)> = products
        .iter()
        .map(|p| {
            (
                p["nm_id"].as_i64().unwrap(),
                p["vendor_code"].as_str().unwrap().to_string(),
                p["brand"].as_str().unwrap().to_string(),
                p["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(i64, String, String, String)> = expected_products
        .iter()
        .map(|p| {
            (
                p.nm_id,
                p.vendor_code.clone(),
                p.brand.to_string(),
                p.title.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let sample = &expected_products[3];
    let detail = app
        .get(&format!("/api/v1/products/{}", sample.nm_id), &s.access)
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    let sizes: BTreeSet<(i64, String, Vec<String>)> = detail.body["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            (
                z["chrt_id"].as_i64().unwrap(),
                z["tech_size"].as_str().unwrap().to_string(),
                z["barcodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let want_sizes: BTreeSet<(i64, String, Vec<String>)> = sample
        .sizes
        .iter()
        .map(|z| (z.chrt_id, z.tech_size.clone(), z.skus.clone()))
        .collect();
    assert_eq!(sizes, want_sizes);
    // Each size's stock per warehouse is the product's stock rows, and the totals add up.
    let rows = all_items(app, &s, &format!("/api/v1/stocks?nm_id={}", sample.nm_id)).await;
    let row_key = |chrt: &Value, w: &Value| {
        (
            chrt.as_i64().unwrap(),
            w["kind"].as_str().unwrap().to_string(),
            w["warehouse_id"].as_i64().unwrap(),
            w["quantity"].as_i64().unwrap(),
        )
    };
    let from_stocks: BTreeSet<_> = rows.iter().map(|r| row_key(&r["chrt_id"], r)).collect();
    let mut from_detail = BTreeSet::new();
    for z in detail.body["sizes"].as_array().unwrap() {
        let mut total = 0;
        for w in z["stock"].as_array().unwrap() {
            from_detail.insert(row_key(&z["chrt_id"], w));
            total += w["quantity"].as_i64().unwrap();
        }
        assert_eq!(z["quantity"].as_i64().unwrap(), total, "{z}");
    }
    assert!(!from_detail.is_empty());
    assert_eq!(from_detail, from_stocks);

    // Stock, warehouses and the size list, exactly.
    let tick = world.tick(SELLER).await;
    let expected = expected_stock(&world, tick);
    assert_eq!(actual_stock(&world, &s).await, expected);
    assert_eq!(run["stock_rows"].as_i64().unwrap() as usize, expected.len());
    let warehouses = app.get("/api/v1/warehouses", &s.access).await;
    let got_wh: BTreeSet<(String, i64)> = warehouses.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap().to_string(),
                w["warehouse_id"].as_i64().unwrap(),
            )
        })
        .collect();
    let want_wh: BTreeSet<(String, i64)> =
        expected.keys().map(|(k, w, _)| (k.clone(), *w)).collect();
    assert_eq!(got_wh, want_wh);
    assert!(
        got_wh.contains(&("wb".to_string(), -999_999)),
        "the aggregate warehouse is kept"
    );
    let sizes = app.get("/api/v1/sizes", &s.access).await;
    let size_names: BTreeSet<String> = sizes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["tech_size"].as_str().unwrap().to_string())
        .collect();
    let want_names: BTreeSet<String> = expected_products
        .iter()
        .flat_map(|p| p.sizes.iter().map(|z| z.tech_size.clone()))
        .collect();
    assert_eq!(size_names, want_names);
    // Every row is new on the first sync, so each has one history row.
    assert_eq!(run["history_rows"], run["stock_rows"]);

    // The same data again changes nothing.
    let again = sync_and_wait(app, &s).await;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["stock_changes"], 0, "{again:#}");
    assert_eq!(again["history_rows"], 0, "{again:#}");

    // Simulated orders drain stock; the next sync shows exactly the new state.
    world.advance(SELLER, 3).await;
    let tick2 = world.tick(SELLER).await;
    let expected2 = expected_stock(&world, tick2);
    let changed: Vec<&StockKey> = expected2
        .iter()
        .filter(|(k, q)| expected.get(*k) != Some(*q))
        .map(|(k, _)| k)
        .collect();
    assert!(!changed.is_empty(), "the sandbox changed some stock");
    let third = sync_and_wait(app, &s).await;
    assert_eq!(third["status"], "succeeded");
    assert_eq!(actual_stock(&world, &s).await, expected2);
    assert_eq!(
        third["history_rows"].as_u64().unwrap() as usize,
        changed.len(),
        "{third:#}"
    );

    // The changed product's history shows the old and new quantity.
    let (kind, wh, chrt) = changed[0];
    let nm_id = expected_products
        .iter()
        .find(|p| p.sizes.iter().any(|z| z.chrt_id == *chrt))
        .unwrap()
        .nm_id;
    let history = all_items(app, &s, &format!("/api/v1/products/{nm_id}/stock-history")).await;
    let entries: Vec<&Value> = history
        .iter()
        .filter(|h| h["chrt_id"] == *chrt && h["warehouse_id"] == *wh && h["kind"] == kind.as_str())
        .collect();
    assert_eq!(entries.len(), 2, "{history:#?}");
    assert_eq!(entries[0]["quantity"].as_i64(), Some(expected[changed[0]]));
    assert!(entries[0]["previous"].is_null());
    assert_eq!(entries[1]["previous"].as_i64(), Some(expected[changed[0]]));
    assert_eq!(entries[1]["quantity"].as_i64(), Some(expected2[changed[0]]));

    // Status reflects the last success and the valid token.
    let status = app.get("/api/v1/sync/status", &s.access).await;
    assert_eq!(status.body["running"], false);
    assert_eq!(status.body["credential_status"], "active");
    assert_eq!(status.body["last_run"]["id"], third["id"]);
    assert!(status.body["next_due_at"].is_string());
    let runs = app.get("/api/v1/sync/runs", &s.access).await;
    assert_eq!(runs.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(runs.body["items"][0]["id"], third["id"], "newest first");
}

#[tokio::test]
async fn reads_are_cached_until_a_sync_completes_and_work_without_redis() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("cache@shop.ru", "Cache shop").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    sync_and_wait(app, &s).await;

    let first = app.get("/api/v1/stocks?limit=5", &s.access).await;
    assert_eq!(first.headers["x-cache"], "MISS");
    let second = app.get("/api/v1/stocks?limit=5", &s.access).await;
    assert_eq!(second.headers["x-cache"], "HIT");
    assert_eq!(first.body, second.body);
    assert!(
        second.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private, max-age=")
    );
    let ttl: u64 = second.headers["x-cache-ttl"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 300);
    assert!(second.headers.contains_key("x-data-synced-at"));
    // Different parameters are a different entry.
    let other = app.get("/api/v1/stocks?limit=6", &s.access).await;
    assert_eq!(other.headers["x-cache"], "MISS");

    // A completed sync drops the tenant's cache.
    world.advance(SELLER, 2).await;
    sync_and_wait(app, &s).await;
    let after = app.get("/api/v1/stocks?limit=5", &s.access).await;
    assert_eq!(after.headers["x-cache"], "MISS");

    // Another tenant never sees this tenant's cached answer.
    let other_tenant = app.register("other@shop.ru", "Other").await;
    let theirs = app
        .get("/api/v1/stocks?limit=5", &other_tenant.access)
        .await;
    assert_eq!(theirs.headers["x-cache"], "MISS");
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);

    // With Redis unreachable the same reads come from PostgreSQL.
    let no_redis = TestApp::builder()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .spawn()
        .await;
    let t = no_redis.register("nr@shop.ru", "No Redis").await;
    let a = no_redis.get("/api/v1/stocks", &t.access).await;
    assert_eq!(a.status, StatusCode::OK, "{a:#?}");
    assert_eq!(a.headers["x-cache"], "MISS");
}

#[tokio::test]
async fn stock_filters_and_sorting_page_correctly() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("filters@shop.ru", "Filters").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    world.advance(SELLER, 20).await;
    sync_and_wait(app, &s).await;
    let all = actual_stock(&world, &s).await;

    let below = all_items(app, &s, "/api/v1/stocks?below=5").await;
    assert_eq!(below.len(), all.values().filter(|q| **q < 5).count());
    let zero = all_items(app, &s, "/api/v1/stocks?in_stock=false").await;
    assert_eq!(zero.len(), all.values().filter(|q| **q == 0).count());
    assert!(!zero.is_empty(), "the sandbox has sold-out rows");
    let in_stock = all_items(app, &s, "/api/v1/stocks?in_stock=true").await;
    assert_eq!(in_stock.len() + zero.len(), all.len());
    let seller_rows = all_items(app, &s, "/api/v1/stocks?kind=seller").await;
    assert_eq!(
        seller_rows.len(),
        all.keys().filter(|(k, _, _)| k == "seller").count()
    );
    let agg = all_items(app, &s, "/api/v1/stocks?kind=wb&warehouse_id=-999999").await;
    assert!(agg.iter().all(|r| r["warehouse_id"] == -999_999));

    let product = catalog::products(SELLER, &world.cfg)[0].clone();
    let by_nm = all_items(app, &s, &format!("/api/v1/stocks?nm_id={}", product.nm_id)).await;
    assert!(by_nm.iter().all(|r| r["nm_id"] == product.nm_id));
    assert_eq!(
        by_nm.len(),
        all.keys()
            .filter(|(_, _, c)| product.sizes.iter().any(|z| z.chrt_id == *c))
            .count()
    );
    let by_barcode = all_items(
        app,
        &s,
        &format!("/api/v1/stocks?search={}", product.sizes[0].skus[0]),
    )
    .await;
    assert!(!by_barcode.is_empty());
    assert!(
        by_barcode
            .iter()
            .all(|r| r["chrt_id"] == product.sizes[0].chrt_id)
    );
    let by_vendor = all_items(
        app,
        &s,
        &format!("/api/v1/products?search={}", product.vendor_code),
    )
    .await;
    assert_eq!(by_vendor[0]["nm_id"], product.nm_id);

    // Sorted by quantity descending across pages: non-increasing, every row once.
    let mut seen = BTreeSet::new();
    let mut last = i64::MAX;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/stocks?sort=-quantity&limit=7&cursor={c}"),
            None => "/api/v1/stocks?sort=-quantity&limit=7".to_string(),
        };
        let page = app.get(&url, &s.access).await;
        for r in page.body["items"].as_array().unwrap() {
            let q = r["quantity"].as_i64().unwrap();
            assert!(q <= last, "sorted descending");
            last = q;
            assert!(seen.insert((
                r["kind"].to_string(),
                r["warehouse_id"].as_i64(),
                r["chrt_id"].as_i64()
            )));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), all.len());

    // Bad filters are problems naming the parameter.
    app.get("/api/v1/stocks?below=lots", &s.access)
        .await
        .problem(422, "invalid_query");
    let p = app.get("/api/v1/stocks?kind=moon", &s.access).await;
    assert_eq!(p.problem(422, "invalid_query")["field"], "kind");
    app.get("/api/v1/stocks?sort=sideways", &s.access)
        .await
        .problem(422, "invalid_query");
    app.get("/api/v1/products/not-a-number", &s.access)
        .await
        .problem(404, "not_found");
    app.get("/api/v1/products/1", &s.access)
        .await
        .problem(404, "not_found");
}

/// The stock on WB's warehouses per size equals the sandbox's. Per size, because the
/// warehouse_remains report names warehouses without ids.
async fn assert_wb_stock_per_size_is_the_sandboxs(world: &SandboxWorld, s: &Session) {
    let tick = world.tick(SELLER).await;
    let mut want: BTreeMap<i64, i64> = BTreeMap::new();
    for r in catalog::wb_warehouse_stock(SELLER, &world.cfg, tick) {
        *want.entry(r.chrt_id).or_insert(0) += i64::from(r.quantity);
    }
    want.retain(|_, q| *q > 0);
    let mut got: BTreeMap<i64, i64> = BTreeMap::new();
    for r in all_items(&world.app, s, "/api/v1/stocks?kind=wb").await {
        *got.entry(r["chrt_id"].as_i64().unwrap()).or_insert(0) += r["quantity"].as_i64().unwrap();
    }
    got.retain(|_, q| *q > 0);
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_base_token_with_our_secret_reads_the_stock_report_directly() {
    // The harness's worker sends our service secret: WB's spec lists `base-with-secret`
    // for stocks-report/wb-warehouses, but not seller-warehouses (personal and service).
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app
        .register("base-secret@shop.ru", "Base with secret")
        .await;
    let mut opts = wb_sandbox::TokenOptions::demo(SELLER);
    opts.token_type = wb_sandbox::TokenType::Base;
    let saved = connect_token(app, &s, &wb_sandbox::mint_token(&opts)).await;
    assert_eq!(saved.body["token_type"], "base");
    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["stock_source"], "stocks_report", "{run:#}");
    let asked = world.requests(SELLER).await;
    let count = |part: &str| -> u64 {
        asked
            .iter()
            .filter(|(endpoint, _)| endpoint.contains(part))
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(count("stocks-report/wb-warehouses"), 1, "{asked:?}");
    assert_eq!(count("warehouse_remains"), 0, "{asked:?}");
    assert_eq!(count("stocks-report/seller-warehouses"), 0, "{asked:?}");
    assert!(count("/api/v3/stocks/") > 0, "{asked:?}");
    assert_wb_stock_per_size_is_the_sandboxs(&world, &s).await;
}

#[tokio::test]
async fn base_tokens_without_our_secret_fall_back_to_the_warehouse_remains_report() {
    let world = SandboxWorld::start_with(small_sandbox(), |c| c.wb.client_secrets.clear()).await;
    let app = &world.app;
    let s = app.register("base@shop.ru", "Base shop").await;
    let mut opts = wb_sandbox::TokenOptions::demo(SELLER);
    opts.token_type = wb_sandbox::TokenType::Base;
    let saved = connect_token(app, &s, &wb_sandbox::mint_token(&opts)).await;
    assert_eq!(saved.body["token_type"], "base");
    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["stock_source"], "warehouse_remains");

    assert_wb_stock_per_size_is_the_sandboxs(&world, &s).await;
    let warehouses = app.get("/api/v1/warehouses", &s.access).await;
    assert!(
        warehouses.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["warehouse_id"] == -999_999 && w["is_aggregate"] == true)
    );
}

#[tokio::test]
async fn the_worker_exports_sync_and_queue_metrics() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("metrics@shop.ru", "Metrics").await;
    connect_token(app, &s, &world.token(SELLER)).await;
    let run = sync_and_wait(app, &s).await;
    let text = world.worker.metrics_text().await;
    assert!(
        text.contains(r#"stock_tracker_sync_runs_total{outcome="succeeded",error_code=""} 1"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "stock_tracker_sync_stock_rows_total {}",
            run["stock_rows"]
        )),
        "{text}"
    );
    assert!(
        text.contains("stock_tracker_sync_duration_seconds_count 1"),
        "{text}"
    );
    assert!(text.contains("stock_tracker_wb_requests_total"), "{text}");
    assert!(
        text.contains("# TYPE stock_tracker_queue_jobs gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE stock_tracker_queue_stuck_jobs gauge"),
        "{text}"
    );
}
