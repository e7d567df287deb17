//! A whole system for sync tests: the api, a real worker consuming the real queue, and a
//! Wildberries stand-in (the in-repo sandbox, or any HTTP server such as wiremock).

use crate::http::{Answer, Api, Session, TestApp, wb_settings};
use crate::process::{free_port, worker_env};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use stock_tracker_shared::config::Env;
use stock_tracker_shared::service;
use stock_tracker_shared::sync::Policy;
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
        Self::start_configured(app, wb_url, keys, |_| {}).await
    }

    /// The same with the test settings changed by `tweak` (e.g. the sync policy).
    pub async fn start_configured(
        app: &TestApp,
        wb_url: &str,
        keys: &str,
        tweak: impl FnOnce(&mut WorkerConfig),
    ) -> Self {
        let metrics_port = free_port();
        let vars = worker_env(app.db.jobs_url(), &app.redis_prefix, wb_url)
            .set("WORKER_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
            .set("CREDENTIALS_KEYS", keys)
            .set("WB_TIMEOUT_MS", "1500")
            .set("WORKER_CONCURRENCY", "2");
        let env = Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
        let mut config = WorkerConfig::from_env(&env).expect("worker config");
        // Fast retries and report polling: the behaviour is the same, the test is quicker.
        config.wb.backoff_base = Duration::from_millis(10);
        config.wb.backoff_cap = Duration::from_millis(50);
        config.wb.remains_poll_interval = Duration::from_millis(50);
        config.sync_policy = sandbox_policy();
        tweak(&mut config);
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

    /// What this worker's `/metrics` shows now.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(&self.metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
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
    let mut builder = TestApp::builder();
    for (k, v) in wb_settings(wb_url) {
        builder = builder.env(&k, &v);
    }
    builder.spawn().await
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

/// The policy sync tests run with by default: the sandbox's stock moves with every `advance`,
/// not every 30 minutes like WB's reports, so syncs read it every time.
pub fn sandbox_policy() -> Policy {
    Policy {
        stock_reuse: Duration::ZERO,
        ..Policy::default()
    }
}

impl SandboxWorld {
    pub async fn start(cfg: SandboxConfig) -> Self {
        Self::start_with_policy(cfg, sandbox_policy()).await
    }

    /// A world whose worker syncs under `policy` (e.g. [`Policy::default`], WB's cadence).
    pub async fn start_with_policy(cfg: SandboxConfig, policy: Policy) -> Self {
        Self::start_with(cfg, |c| c.sync_policy = policy).await
    }

    /// A world whose worker's settings `tweak` changes.
    pub async fn start_with(cfg: SandboxConfig, tweak: impl FnOnce(&mut WorkerConfig)) -> Self {
        let sandbox = wb_sandbox::spawn(cfg.clone())
            .await
            .expect("sandbox starts");
        // WB checks our service secret: the sandbox refuses any other.
        let answer = reqwest::Client::new()
            .post(format!("{}/__sandbox/service", sandbox.base_url))
            .json(&json!({"client_secrets": [crate::http::TEST_WB_CLIENT_SECRET]}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        let app = app_for(&sandbox.base_url).await;
        let worker = Worker::start_configured(
            &app,
            &sandbox.base_url,
            crate::http::TEST_CREDENTIALS_KEYS,
            tweak,
        )
        .await;
        Self {
            app,
            sandbox,
            cfg,
            worker,
        }
    }

    /// A service token for our (the sandbox's) catalog entry: what a seller connects.
    pub fn token(&self, seller_id: i64) -> String {
        wb_sandbox::mint_token(&TokenOptions::of_type(
            seller_id,
            wb_sandbox::TokenType::Service,
        ))
    }

    /// Every WB request the sandbox has seen, oldest first (`method`, `path`,
    /// `client_secret`, `user_agent`, `status`).
    pub async fn wb_requests(&self) -> Vec<Value> {
        reqwest::Client::new()
            .get(format!("{}/__sandbox/request-log", self.sandbox.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Tells the sandbox whether our service balance is empty (every seller-data request
    /// then answers 402).
    pub async fn set_unpaid(&self, unpaid: bool) {
        let answer = reqwest::Client::new()
            .post(format!("{}/__sandbox/service", self.sandbox.base_url))
            .json(&json!({ "unpaid": unpaid }))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
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

    /// Requests the sandbox received with the seller's tokens, by endpoint path template.
    pub async fn requests(&self, seller_id: i64) -> BTreeMap<String, u64> {
        let path = format!("/__sandbox/requests?seller_id={seller_id}");
        let answer = self.control(reqwest::Method::GET, &path, None).await;
        serde_json::from_value(answer["by_endpoint"].clone()).expect("requests by endpoint")
    }

    /// The seller edits the `touch` cards updated longest ago and moves the next `trash`
    /// ones to the trash; returns (edited nmIDs, trashed nmIDs).
    pub async fn edit_cards(
        &self,
        seller_id: i64,
        touch: usize,
        trash: usize,
    ) -> (Vec<i64>, Vec<i64>) {
        let body = json!({"seller_id": seller_id, "touch": touch, "trash": trash});
        let answer = self
            .control(reqwest::Method::POST, "/__sandbox/cards", Some(body))
            .await;
        let ids = |k: &str| serde_json::from_value(answer[k].clone()).expect("nmIDs");
        (ids("touched"), ids("trashed"))
    }

    /// A `/__sandbox/*` call; its JSON answer.
    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request =
            reqwest::Client::new().request(method, format!("{}{path}", self.sandbox.base_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// The sandbox's current simulation tick for a seller.
    pub async fn tick(&self, seller_id: i64) -> u64 {
        let path = format!("/__sandbox/state?seller_id={seller_id}");
        let state = self.control(reqwest::Method::GET, &path, None).await;
        state["tick"].as_u64().expect("tick")
    }
}

/// Saves a WB token for the session's tenant; returns the answer.
pub async fn connect_token(app: &Api, session: &Session, token: &str) -> Answer {
    app.call(
        reqwest::Method::PUT,
        "/api/v1/wb/credentials",
        Some(&session.access),
        Some(json!({ "token": token })),
    )
    .await
}

/// Queues a sync by hand (202 asserted); returns its run id.
pub async fn start_sync(app: &Api, session: &Session) -> String {
    let started = app
        .post("/api/v1/sync", Some(&session.access), json!({}))
        .await;
    assert_eq!(started.status.as_u16(), 202, "{started:#?}");
    started.body["run_id"].as_str().unwrap().to_string()
}

/// Starts a sync and waits until the worker has finished it; returns the run.
pub async fn sync_and_wait(app: &Api, session: &Session) -> Value {
    let run_id = start_sync(app, session).await;
    wait_for_run(app, session, &run_id).await
}

/// The run as the api shows it (200 asserted).
pub async fn run(app: &Api, session: &Session, run_id: &str) -> Value {
    let run = app
        .get(&format!("/api/v1/sync/runs/{run_id}"), &session.access)
        .await;
    assert_eq!(run.status.as_u16(), 200, "{run:#?}");
    run.body
}

/// Polls the run until it has finished (succeeded or failed); returns it.
pub async fn wait_for_run(app: &Api, session: &Session, run_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = run(app, session, run_id).await;
        if run["status"] == "succeeded" || run["status"] == "failed" {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} still unfinished: {run:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the run until a worker has started it (status `running`).
pub async fn wait_until_running(app: &Api, session: &Session, run_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = run(app, session, run_id).await;
        if run["status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "never started: {run:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Jobs still held by the queue (queued or running), as the owner role sees them.
pub async fn jobs_held(owner: &sqlx::PgPool) -> i64 {
    stock_tracker_shared::jobs::queue::count_claimed(owner)
        .await
        .unwrap()
}

/// Waits until the queue holds no job (apalis writes results in batches, so a finished
/// job may look held for a moment).
pub async fn wait_until_no_job_held(owner: &sqlx::PgPool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let held = jobs_held(owner).await;
        if held == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{held} job(s) still held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
