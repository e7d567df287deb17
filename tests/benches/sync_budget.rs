//! The sync and read budgets of the sync issue, measured on the real binaries (release
//! builds), real PostgreSQL and Redis, and the sandbox with WB's limits off:
//!
//! - a full sync of a 100,000-row seller: time (worker-side and wall) and the worker's peak
//!   memory, against a plain `COPY` of the same rows;
//! - `GET /api/v1/stocks?limit=100` latency at 50 concurrent clients, uncached and cached.
//!
//! Run with `scripts/bench.sh` (it builds the binaries first). Prints figures; asserts
//! nothing about time.

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use std::time::{Duration, Instant};
use stock_tracker_tests::TestDb;
use stock_tracker_tests::db::redis_url;
use stock_tracker_tests::http::{PASSWORD, TEST_CREDENTIALS_KEYS, TEST_JWT_SECRET};
use stock_tracker_tests::process::{Process, free_port};
use wb_sandbox::{TokenOptions, mint_token};

const SIZES: u32 = 5;
const WB_WAREHOUSES: u32 = 4;
const SELLER_WAREHOUSES: u32 = 1;
const CLIENTS: usize = 50;
const REQUESTS_PER_CLIENT: usize = 40;

fn bin_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("BENCH_BIN_DIR") {
        return dir.into();
    }
    // target/release/deps/sync_budget-… → target/release
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn bin(name: &str) -> String {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} not built; run scripts/bench.sh",
        path.display()
    );
    path.to_string_lossy().to_string()
}

fn api_env(db: &TestDb, port: u16, wb: &str, cache_ttl: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.app_url()),
        ("REDIS_URL", redis_url()),
        ("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS.to_string()),
        ("JWT_SECRET", TEST_JWT_SECRET.to_string()),
        (
            "PUBLIC_BASE_URL",
            "http://bench.stock-tracker.test".to_string(),
        ),
        ("API_BIND", format!("127.0.0.1:{port}")),
        ("REDIS_KEY_PREFIX", format!("bench:{}:", db.name)),
        ("WB_BASE_URL", wb.to_string()),
        ("WB_SANDBOX", "true".to_string()),
        ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        ("CACHE_TTL_SECS", cache_ttl.to_string()),
        ("DATABASE_MAX_CONNECTIONS", "20".to_string()),
        ("LOG_FORMAT", "json".to_string()),
        (
            "RUST_LOG",
            "warn,stock_tracker_api=info,stock_tracker_worker=info".to_string(),
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn latency(client: &reqwest::Client, url: &str, token: &str) -> (Vec<Duration>, f64) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, token) = (client.clone(), url.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for _ in 0..REQUESTS_PER_CLIENT {
                let t = Instant::now();
                let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
                let status = res.status();
                let body = res.bytes().await.unwrap();
                assert!(
                    status.is_success(),
                    "{status}: {}",
                    String::from_utf8_lossy(&body)
                );
                out.push(t.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    (all, rps)
}

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn wait_run(client: &reqwest::Client, api: &str, token: &str, run_id: &str) -> Value {
    loop {
        let run: Value = client
            .get(format!("{api}/api/v1/sync/runs/{run_id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if run["status"] == "succeeded" || run["status"] == "failed" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let rows: u32 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_product = SIZES * (WB_WAREHOUSES + SELLER_WAREHOUSES);
    let products = rows.div_ceil(per_product);
    let db = TestDb::new().await;

    let sandbox_port = free_port();
    let wb = format!("http://127.0.0.1:{sandbox_port}");
    let mut sandbox = Process::start(
        &bin("wb-sandbox"),
        &[],
        &[
            ("WB_SANDBOX_BIND", format!("127.0.0.1:{sandbox_port}")),
            ("WB_SANDBOX_PRODUCTS", products.to_string()),
            ("WB_SANDBOX_SIZES", SIZES.to_string()),
            ("WB_SANDBOX_WB_WAREHOUSES", WB_WAREHOUSES.to_string()),
            (
                "WB_SANDBOX_SELLER_WAREHOUSES",
                SELLER_WAREHOUSES.to_string(),
            ),
            ("WB_SANDBOX_RATE_SCALE", "0".to_string()),
            ("WB_SANDBOX_DRAIN_SECS", "0".to_string()),
        ],
    );
    sandbox.wait_for("ready", Duration::from_secs(20));

    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let mut api_proc = Process::start(
        &bin("stock-tracker-api"),
        &[],
        &api_env(&db, api_port, &wb, "300"),
    );
    api_proc.wait_for("api ready", Duration::from_secs(20));
    let mut worker_env = api_env(&db, api_port, &wb, "300");
    worker_env.push(("WORKER_CONCURRENCY", "1".to_string()));
    // The worker connects as the jobs role, as in production (Env: the last value wins).
    worker_env.push(("DATABASE_URL", db.jobs_url()));
    let mut worker = Process::start(&bin("stock-tracker-worker"), &[], &worker_env);
    worker.wait_for("worker ready", Duration::from_secs(20));
    let idle_rss = worker.peak_rss_mib().unwrap_or(0.0);

    let client = reqwest::Client::new();
    let tokens = post(
        &client,
        &format!("{api}/api/v1/auth/register"),
        None,
        json!({"email": "bench@shop.ru", "password": PASSWORD, "company_name": "Bench"}),
    )
    .await;
    let token = tokens["access_token"].as_str().unwrap().to_string();
    let wb_token = mint_token(&TokenOptions::demo(1));
    let put = client
        .put(format!("{api}/api/v1/wb/credentials"))
        .bearer_auth(&token)
        .json(&json!({"token": wb_token}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());

    let mut syncs = Vec::new();
    for label in ["first sync (all rows new)", "second sync (no changes)"] {
        let wall = Instant::now();
        let started = post(
            &client,
            &format!("{api}/api/v1/sync"),
            Some(&token),
            json!({}),
        )
        .await;
        let run = wait_run(&client, &api, &token, started["run_id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        syncs.push((label, run, wall.elapsed()));
    }
    let peak_rss = worker.peak_rss_mib().unwrap_or(0.0);

    // The same rows through a plain COPY into a table shaped like `stocks`.
    let mut owner = PgConnection::connect(&db.owner_url()).await.unwrap();
    let mut out = owner
        .copy_out_raw(
            "copy (select tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity, in_way_to_client,
                          in_way_from_client, updated_at from stocks) to stdout",
        )
        .await
        .unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = out.next().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    drop(out);
    let copied_rows = data.iter().filter(|b| **b == b'\n').count();
    let mut copy_times = Vec::new();
    for (name, ddl) in [
        ("bare table", "create table copy_bare (like stocks)"),
        (
            "with stocks' keys and indexes",
            "create table copy_indexed (like stocks including all)",
        ),
    ] {
        owner.execute(ddl).await.unwrap();
        let table = ddl.split_whitespace().nth(2).unwrap();
        let t = Instant::now();
        let mut copy = owner
            .copy_in_raw(&format!("copy {table} from stdin"))
            .await
            .unwrap();
        copy.send(data.as_slice()).await.unwrap();
        copy.finish().await.unwrap();
        copy_times.push((name, t.elapsed()));
    }

    // Reads are measured in steady state: after a sync this size autovacuum analyzes the
    // tables within a minute; do it now instead of waiting.
    owner.execute("analyze").await.unwrap();

    // The plan of the uncached read, as the application role sees it (through RLS).
    let tenant = tokens["tenant"]["id"].as_str().unwrap();
    let mut app_conn = PgConnection::connect(&db.app_url()).await.unwrap();
    app_conn
        .execute(sqlx::AssertSqlSafe(format!(
            "set app.tenant_id = '{tenant}'"
        )))
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "explain (analyze, buffers) select s.nm_id, s.chrt_id, p.vendor_code, p.title, p.brand,
                z.tech_size, z.barcodes, s.kind, s.warehouse_id, w.name, s.quantity,
                s.in_way_to_client, s.in_way_from_client, s.updated_at
           from stocks s
           join warehouses w on w.tenant_id = s.tenant_id and w.kind = s.kind
                            and w.warehouse_id = s.warehouse_id
           left join sizes z on z.tenant_id = s.tenant_id and z.chrt_id = s.chrt_id
           left join products p on p.tenant_id = s.tenant_id and p.nm_id = s.nm_id
          order by s.nm_id, s.chrt_id, s.kind, s.warehouse_id limit 101",
    )
    .fetch_all(&mut app_conn)
    .await
    .unwrap();
    println!(
        "\nplan of the uncached GET /stocks query:\n  {}",
        plan.join("\n  ")
    );

    // Reads: cached (this api) and uncached (a second api with caching off).
    let url = format!("{api}/api/v1/stocks?limit=100");
    let _ = latency(&client, &url, &token).await; // warm-up: fills the cache, warms the pool
    let (cached, cached_rps) = latency(&client, &url, &token).await;
    let nocache_port = free_port();
    let nocache_api = format!("http://127.0.0.1:{nocache_port}");
    let mut nocache = Process::start(
        &bin("stock-tracker-api"),
        &[],
        &api_env(&db, nocache_port, &wb, "0"),
    );
    nocache.wait_for("api ready", Duration::from_secs(20));
    let nocache_url = format!("{nocache_api}/api/v1/stocks?limit=100");
    let _ = latency(&client, &nocache_url, &token).await;
    let (uncached, uncached_rps) = latency(&client, &nocache_url, &token).await;

    println!(
        "\n== Sync budget: seller with {} stock rows ({products} products x {SIZES} sizes x {} warehouses) ==",
        syncs[0].1["stock_rows"],
        WB_WAREHOUSES + SELLER_WAREHOUSES
    );
    for (label, run, wall) in &syncs {
        println!(
            "{label:<28} worker {:>6} ms   wall {:>6.0} ms   WB requests {:>3}   changes {:>6}   history {:>6}",
            run["duration_ms"],
            wall.as_secs_f64() * 1000.0,
            run["wb_requests"],
            run["stock_changes"],
            run["history_rows"]
        );
    }
    println!(
        "worker peak RSS              {peak_rss:.1} MiB (idle {idle_rss:.1} MiB)   budget 150 MB"
    );
    let full = syncs[0].1["duration_ms"].as_f64().unwrap();
    for (name, t) in &copy_times {
        let ms = t.as_secs_f64() * 1000.0;
        println!(
            "plain COPY of {copied_rows} rows, {name:<31} {ms:>6.0} ms   sync/COPY ratio {:.2}",
            full / ms
        );
    }
    println!("budget: full sync <= 3000 ms; ratio target <= 2.0");
    println!(
        "\n== GET /api/v1/stocks?limit=100, {CLIENTS} concurrent clients x {REQUESTS_PER_CLIENT} requests =="
    );
    for (label, lat, rps) in [
        ("uncached", &uncached, uncached_rps),
        ("cached", &cached, cached_rps),
    ] {
        println!(
            "{label:<9} p50 {:>6.2} ms   p95 {:>6.2} ms   p99 {:>6.2} ms   max {:>7.2} ms   {rps:>6.0} req/s",
            percentile(lat, 0.50),
            percentile(lat, 0.95),
            percentile(lat, 0.99),
            percentile(lat, 1.0)
        );
    }
    println!("budget: p99 <= 20 ms uncached, <= 5 ms cached");

    for p in [&mut nocache, &mut worker, &mut api_proc, &mut sandbox] {
        p.signal("TERM");
        let _ = p.wait_exit(Duration::from_secs(30));
    }
}
