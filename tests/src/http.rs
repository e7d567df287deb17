use crate::db::{self, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::ops::Deref;
use stock_tracker_api::config::ApiConfig;
use stock_tracker_api::state::AppState;
use stock_tracker_shared::config::Env;

pub const TEST_JWT_SECRET: &str = "test-jwt-secret-that-is-long-enough-0123456789";
pub const TEST_CREDENTIALS_KEYS: &str = "test1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const PASSWORD: &str = "correct horse battery";
/// Our service secret towards WB in tests (`WB_CLIENT_SECRETS`); the sandbox world checks it.
pub const TEST_WB_CLIENT_SECRET: &str = "test-wb-client-secret-5f1c9a7e3b";

/// The real api router, served in this process on a loopback port, and a client for it.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub redis_prefix: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// Ends (after draining) once `_shutdown` is dropped.
    _server: tokio::task::JoinHandle<()>,
}

/// The real api on its own fresh database (and Redis prefix); its client methods are
/// [`Api`]'s.
pub struct TestApp {
    api: Api,
    pub db: TestDb,
}

impl Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
}

impl Session {
    pub fn from_tokens(body: &Value) -> Self {
        Self {
            access: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
            user_id: body["user"]["id"].as_str().unwrap().to_string(),
            tenant_id: body["tenant"]["id"].as_str().unwrap().to_string(),
            email: body["user"]["email"].as_str().unwrap().to_string(),
        }
    }
}

pub struct Builder {
    env: Vec<(String, String)>,
}

impl Builder {
    /// Overrides one api setting for this test.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = TestDb::new().await;
        TestApp {
            api: Api::serve(db.app_url(), self.env).await,
            db,
        }
    }
}

/// The settings that point the api at a WB stand-in at `wb_url`, test tokens allowed.
pub fn wb_settings(wb_url: &str) -> Vec<(String, String)> {
    [
        ("WB_BASE_URL", wb_url),
        ("WB_SANDBOX", "true"),
        ("WB_TIMEOUT_MS", "1500"),
        ("WB_RATE_LIMIT_SCALE", "0"),
        ("WB_CLIENT_SECRETS", TEST_WB_CLIENT_SECRET),
        // The sandbox is our catalog entry; personal tokens are allowed as in local runs
        // (the token policy has its own tests with the production default).
        ("WB_SERVICE_ID", wb_sandbox::SANDBOX_SERVICE_ID),
        ("WB_ACCEPTED_TOKEN_TYPES", "base,service,personal"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Api {
    /// Serves the api on `database_url` with the test settings, then `overrides`.
    pub async fn serve(database_url: String, overrides: Vec<(String, String)>) -> Self {
        let redis_prefix = format!("st-test:{}:", uuid::Uuid::new_v4().simple());
        let mut vars: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database_url),
            ("REDIS_URL".into(), db::redis_url()),
            ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
            ("CREDENTIALS_KEYS".into(), TEST_CREDENTIALS_KEYS.into()),
            ("PUBLIC_BASE_URL".into(), "http://stock-tracker.test".into()),
            ("REDIS_KEY_PREFIX".into(), redis_prefix.clone()),
            // Tests sign up many users from 127.0.0.1; the per-address limit has its own test.
            ("AUTH_RATE_LIMIT_BURST".into(), "10000".into()),
            ("AUTH_RATE_LIMIT_PERIOD_MS".into(), "1".into()),
            ("PASSWORD_HASH_CONCURRENCY".into(), "2".into()),
            ("SHUTDOWN_GRACE_SECS".into(), "2".into()),
        ];
        vars.extend(overrides);
        let env = Env::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let config = ApiConfig::from_env(&env).expect("test configuration is valid");
        let state = AppState::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        let server = tokio::spawn(async move {
            stock_tracker_api::app::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            base,
            client: reqwest::Client::new(),
            state,
            redis_prefix,
            _shutdown: tx,
            _server: server,
        }
    }
}

/// What a request answered, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Asserts an RFC 9457 problem with this status and code; returns the body.
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{self:#?}");
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{self:#?}"
        );
        assert_eq!(self.body["code"], code, "{self:#?}");
        assert_eq!(self.body["status"], status, "{self:#?}");
        assert!(self.body["type"].as_str().unwrap().ends_with(code));
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        &self.body
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder { env: Vec::new() }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("request reaches the api");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// A request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Registers a new tenant and its owner.
    pub async fn register(&self, email: &str, company: &str) -> Session {
        let a = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "company_name": company}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:#?}");
        Session::from_tokens(&a.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Invites `email` into the owner's tenant with `role` (201 asserted); returns the
    /// invitation, token included.
    pub async fn invite(&self, owner: &Session, email: &str, role: &str) -> Value {
        let inv = self
            .post(
                "/api/v1/tenant/invitations",
                Some(&owner.access),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(inv.status, StatusCode::CREATED, "{inv:#?}");
        inv.body
    }

    /// Invites `email` into the owner's tenant with `role`, accepts, and signs them in.
    pub async fn add_member(&self, owner: &Session, email: &str, role: &str) -> Session {
        let inv = self.invite(owner, email, role).await;
        let acc = self
            .post(
                "/api/v1/auth/accept-invitation",
                None,
                json!({"token": inv["token"], "password": PASSWORD}),
            )
            .await;
        assert_eq!(acc.status, StatusCode::OK, "{acc:#?}");
        Session::from_tokens(&acc.body)
    }
}

/// Builds a session from a token response body (for tests that call auth routes directly).
pub fn session_from(body: &Value) -> Session {
    Session::from_tokens(body)
}
