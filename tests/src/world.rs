//! A whole system for sync tests: the api, a real worker consuming the real queue, and a
//! Wildberries stand-in (the in-repo sandbox, or any HTTP server such as wiremock).

use crate::http::{Answer, Session, TestApp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use stock_tracker_shared::config::Env;
use stock_tracker_shared::service;
use stock_tracker_worker::config::WorkerConfig;
use wb_sandbox::{RunningSandbox, SandboxConfig, TokenOptions};

/// A worker running in this process until dropped.
pub struct Worker {
    /// Where this worker serves its Prometheus metrics.
    pub metrics_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    /// Starts the real worker against `app`'s database and Redis prefix, with every WB
    /// host at `wb_url`.
    pub async fn start(app: &TestApp, wb_url: &str) -> Self {
        Self::start_with_keys(app, wb_url, crate::http::TEST_CREDENTIALS_KEYS).await
    }

    /// The same with another `CREDENTIALS_KEYS`, for key rotation.
    pub async fn start_with_keys(app: &TestApp, wb_url: &str, keys: &str) -> Self {
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let vars = [
            ("WORKER_METRICS_BIND", format!("127.0.0.1:{metrics_port}")),
            ("DATABASE_URL", app.db.app_url()),
            ("REDIS_URL", crate::db::redis_url()),
            ("CREDENTIALS_KEYS", keys.to_string()),
            ("REDIS_KEY_PREFIX", app.redis_prefix.clone()),
            ("WB_BASE_URL", wb_url.to_string()),
            ("WB_SANDBOX", "true".to_string()),
            ("WB_TIMEOUT_MS", "1500".to_string()),
            ("WORKER_CONCURRENCY", "2".to_string()),
            // WB's published limits would space the stock report 20 s apart; the budget
            // itself is covered by the client's tests.
            ("WB_RATE_LIMIT_SCALE", "0".to_string()),
        ];
        let env = Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
        let mut config = WorkerConfig::from_env(&env).expect("worker config");
        // Fast retries and report polling: the behaviour is the same, the test is quicker.
        config.wb.backoff_base = Duration::from_millis(10);
        config.wb.backoff_cap = Duration::from_millis(50);
        config.wb.remains_poll_interval = Duration::from_millis(50);
        let connections = service::connect(&config.common, "test-worker")
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            stock_tracker_worker::sync_job::run(&config, connections, async {
                let _ = rx.await;
            })
            .await
            .expect("worker runs");
        });
        Self {
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The api with WB pointed at `wb_url` and test tokens allowed.
pub async fn app_for(wb_url: &str) -> TestApp {
    TestApp::builder()
        .env("WB_BASE_URL", wb_url)
        .env("WB_SANDBOX", "true")
        .env("WB_TIMEOUT_MS", "1500")
        .env("WB_RATE_LIMIT_SCALE", "0")
        .spawn()
        .await
}

pub struct SandboxWorld {
    pub app: TestApp,
    pub sandbox: RunningSandbox,
    pub cfg: SandboxConfig,
    pub worker: Worker,
}

/// A small, fast sandbox: limits off and no automatic stock drain, so only explicit
/// `advance` calls change the data.
pub fn small_sandbox() -> SandboxConfig {
    SandboxConfig {
        products: 12,
        sizes_per_product: 3,
        wb_warehouses: 3,
        seller_warehouses: 1,
        rate_limit_scale: 0.0,
        drain_every: Duration::ZERO,
    }
}

impl SandboxWorld {
    pub async fn start(cfg: SandboxConfig) -> Self {
        let sandbox = wb_sandbox::spawn(cfg.clone())
            .await
            .expect("sandbox starts");
        let app = app_for(&sandbox.base_url).await;
        let worker = Worker::start(&app, &sandbox.base_url).await;
        Self {
            app,
            sandbox,
            cfg,
            worker,
        }
    }

    pub fn token(&self, seller_id: i64) -> String {
        wb_sandbox::mint_token(&TokenOptions::demo(seller_id))
    }

    pub async fn advance(&self, seller_id: i64, ticks: u64) {
        let res = reqwest::Client::new()
            .post(format!("{}/__sandbox/advance", self.sandbox.base_url))
            .json(&json!({"seller_id": seller_id, "ticks": ticks}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }

    /// The sandbox's current simulation tick for a seller.
    pub async fn tick(&self, seller_id: i64) -> u64 {
        let state: Value = reqwest::Client::new()
            .get(format!(
                "{}/__sandbox/state?seller_id={seller_id}",
                self.sandbox.base_url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state["tick"].as_u64().expect("tick")
    }
}

/// Saves a WB token for the session's tenant; returns the answer.
pub async fn connect_token(app: &TestApp, session: &Session, token: &str) -> Answer {
    app.call(
        reqwest::Method::PUT,
        "/api/v1/wb/credentials",
        Some(&session.access),
        Some(json!({ "token": token })),
    )
    .await
}

/// Starts a sync and waits until the worker has finished it; returns the run.
pub async fn sync_and_wait(app: &TestApp, session: &Session) -> Value {
    let started = app
        .post("/api/v1/sync", Some(&session.access), json!({}))
        .await;
    assert_eq!(started.status.as_u16(), 202, "{started:#?}");
    let run_id = started.body["run_id"].as_str().unwrap().to_string();
    wait_for_run(app, session, &run_id).await
}

pub async fn wait_for_run(app: &TestApp, session: &Session, run_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = app
            .get(&format!("/api/v1/sync/runs/{run_id}"), &session.access)
            .await;
        assert_eq!(run.status.as_u16(), 200, "{run:#?}");
        let status = run.body["status"].as_str().unwrap().to_string();
        if status == "succeeded" || status == "failed" {
            return run.body;
        }
        assert!(Instant::now() < deadline, "run {run_id} still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
