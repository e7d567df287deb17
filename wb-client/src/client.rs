//! The HTTP side of the WB client: one shared [`WbClient`] per process, one [`WbSession`]
//! per sync (one token), and the request loop every typed call goes through: rate budget,
//! timeout, retries with backoff, 429 handling and status mapping.
//!
//! The typed calls live next door (`cards.rs`, `wb_stocks.rs`, `seller_stocks.rs`).

use crate::budget::Budget;
use crate::config::WbConfig;
use crate::error::WbError;
use crate::limits::{Host, Limit, LimitRow, Method};
use crate::metrics::{Outcome, WbMetrics};
use crate::models::ParseError;
use crate::retry;
use crate::token::{self, TokenType};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use stock_tracker_infra::Secret;
use stock_tracker_infra::kv::Redis;

/// After this many 429s in a row a call gives up with [`WbError::RateLimited`].
const MAX_CONSECUTIVE_429: u32 = 5;

/// Where our service secret goes (WB news 144, 2025-09-25).
const CLIENT_SECRET: HeaderName = HeaderName::from_static("x-client-secret");

/// Shared by every sync in a process. Cheap to clone.
#[derive(Clone)]
pub struct WbClient {
    http: reqwest::Client,
    config: Arc<WbConfig>,
    budget: Budget,
    metrics: Option<WbMetrics>,
    /// `WB_CLIENT_SECRETS` as header values, marked sensitive.
    secrets: Arc<[HeaderValue]>,
    /// Which of them this process sends: moves to the next one when WB refuses the current.
    secret_slot: Arc<AtomicUsize>,
}

impl fmt::Debug for WbClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WbClient")
            .field("config", &self.config)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl WbClient {
    /// `key_prefix` namespaces the rate budget in Redis (the same prefix in every process
    /// that should share budgets).
    pub fn new(config: WbConfig, redis: Redis, key_prefix: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.as_str())
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // WB does not redirect API calls; following one could hand the token to
            // whoever answered.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let budget = Budget::new(redis, key_prefix, config.rate_limit_scale);
        let secrets = config
            .client_secrets
            .iter()
            .filter_map(|s| HeaderValue::from_str(s.expose()).ok())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
            .collect();
        Ok(Self {
            http,
            config: Arc::new(config),
            budget,
            metrics: None,
            secrets,
            secret_slot: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Whether our requests carry a service secret (which decides base tokens' limit row).
    pub fn has_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// The secret to send now and its position in `WB_CLIENT_SECRETS`.
    fn secret(&self) -> Option<(usize, HeaderValue)> {
        let slot = self.secret_slot.load(Ordering::Relaxed);
        self.secrets.get(slot).map(|v| (slot, v.clone()))
    }

    /// WB refused the secret in `slot`: count it, and move this process to the next secret
    /// if there is one. Returns whether there is a next one to try.
    fn secret_refused(&self, slot: usize, method: Method) -> bool {
        if let Some(m) = &self.metrics {
            m.secret_rejected(slot);
        }
        let next = slot + 1;
        let has_next = next < self.secrets.len();
        tracing::error!(
            method = method.name(),
            slot,
            next_slot = has_next.then_some(next),
            "Wildberries refused our service secret (X-Client-Secret); the seller's token is \
             fine. Check WB_CLIENT_SECRETS against the developer portal"
        );
        if has_next {
            // Another request may have moved on already; either way the next one is current.
            let _ =
                self.secret_slot
                    .compare_exchange(slot, next, Ordering::Relaxed, Ordering::Relaxed);
        }
        has_next
    }

    pub fn with_metrics(mut self, metrics: WbMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn config(&self) -> &WbConfig {
        &self.config
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// A handle for one sync with one token. The token's claims (read without verifying)
    /// pick the right limits for base and test tokens; an unreadable token gets the
    /// personal-token limits and WB will answer 401 anyway.
    pub fn session(&self, token: Secret<String>) -> WbSession {
        let token_type = token::decode(token.expose()).ok().map(|f| f.token_type);
        let auth = HeaderValue::from_str(token.expose()).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        });
        WbSession {
            client: self.clone(),
            token,
            auth,
            token_type,
            counters: Arc::new(Counters::default()),
        }
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    /// Requests by [`Method::name`], retries included: what WB bills per method.
    by_method: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

/// Calls WB with one token and counts what happened. Clones share the counters.
#[derive(Clone)]
pub struct WbSession {
    client: WbClient,
    token: Secret<String>,
    auth: Option<HeaderValue>,
    token_type: Option<TokenType>,
    counters: Arc<Counters>,
}

impl fmt::Debug for WbSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WbSession")
            .field("token_type", &self.token_type)
            .field("requests", &self.requests())
            .field("rate_limited", &self.rate_limited())
            .field("retries", &self.retries())
            .finish_non_exhaustive()
    }
}

/// A successful answer: 2xx status and the body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What one attempt produced before status mapping.
enum Attempt {
    Answer {
        status: u16,
        retry_after: Duration,
        body: Vec<u8>,
    },
    Timeout,
    Transport(String),
}

impl WbSession {
    /// HTTP requests sent, retries included.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    /// HTTP requests sent per method ([`Method::name`]), retries included.
    pub fn requests_by_method(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.counters
            .by_method
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// 429 answers seen.
    pub fn rate_limited(&self) -> u64 {
        self.counters.rate_limited.load(Ordering::Relaxed)
    }

    /// Requests repeated after a 5xx, timeout, connection error or 429.
    pub fn retries(&self) -> u64 {
        self.counters.retries.load(Ordering::Relaxed)
    }

    /// The token type from the token's claims, if it could be read.
    pub fn token_type(&self) -> Option<TokenType> {
        self.token_type
    }

    /// WB's limit row for this session's requests: the token type, and for base tokens
    /// whether we send the service secret. An unreadable token is treated as personal.
    pub fn limit_row(&self) -> LimitRow {
        self.token_type.map_or(LimitRow::Personal, |t| {
            LimitRow::of(t, self.client.has_secret())
        })
    }

    /// Whether WB lets this session's token (with our secret, if any) call `method`.
    pub fn allows(&self, method: Method) -> bool {
        method.allows(self.limit_row())
    }

    pub fn config(&self) -> &WbConfig {
        &self.client.config
    }

    /// `GET {host}/ping`: checks the token against one host. WB allows 3 per 30 s per host
    /// and blocks clients that poll it, so call it when a token is saved, not on a timer.
    pub async fn ping(&self, host: Host) -> Result<(), WbError> {
        let method = Method::Ping(host);
        self.send(method, method.path_template(), &[], None)
            .await
            .map(|_| ())
    }

    fn limit(&self, method: Method) -> Limit {
        method.limit_for(self.limit_row())
    }

    /// Whose fault a 401 on a request that carried our secret is. WB documents no wording
    /// for a refused secret, so: a problem body that names the secret says so; otherwise
    /// the token is checked alone with `/ping` on the same host (no secret, the token's
    /// validity and category only). `/ping` passing means the token is fine and the secret
    /// is what WB refused; `/ping` answering 401/403 means the token is at fault. Any other
    /// answer decides nothing and is returned as the call's (transient) error, so a token
    /// is never marked invalid on a guess.
    async fn secret_at_fault(&self, method: Method, body: &[u8]) -> Result<bool, WbError> {
        if String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("secret")
        {
            return Ok(true);
        }
        match Box::pin(self.ping(method.host())).await {
            Ok(()) => Ok(true),
            Err(WbError::Unauthorized | WbError::Forbidden) => Ok(false),
            Err(other) => Err(other),
        }
    }

    fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, method: Method, outcome: Outcome) {
        if let Some(m) = &self.client.metrics {
            m.record(method, outcome);
        }
    }

    /// Sends one logical call, retrying as the module docs describe, and returns the 2xx
    /// answer or the mapped error.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, WbError> {
        let Some(auth) = self.auth.clone() else {
            // Not even a valid header value: WB could only answer 401.
            return Err(WbError::Unauthorized);
        };
        let config = &self.client.config;
        // reqwest 0.13 gates `RequestBuilder::query` behind a feature; the URL type does it.
        let mut url = reqwest::Url::parse(&format!("{}{}", config.url(method.host()), path))
            .map_err(|_| WbError::Transport(format!("{}: invalid URL", method.name())))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let limit = self.limit(method);
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            // Every request for seller data carries the secret; `/ping` reads none and is
            // kept free of it so it can tell a refused secret from a refused token.
            let secret = match method {
                Method::Ping(_) => None,
                _ => self.client.secret(),
            };
            self.client
                .budget
                .acquire_limit(&self.token, method, limit)
                .await;
            self.bump(&self.counters.requests);
            if let Ok(mut by_method) = self.counters.by_method.lock() {
                *by_method.entry(method.name()).or_default() += 1;
            }
            let mut request = self
                .client
                .http
                .request(http_verb(method), url.clone())
                .header(AUTHORIZATION, auth.clone())
                .timeout(config.timeout);
            if let Some((_, value)) = &secret {
                request = request.header(CLIENT_SECRET, value.clone());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let attempt = attempt(request).await;

            let failure = match attempt {
                Attempt::Answer {
                    status: 429,
                    retry_after,
                    ..
                } => {
                    self.record(method, Outcome::Status(429));
                    self.bump(&self.counters.rate_limited);
                    throttled += 1;
                    self.client
                        .budget
                        .block_until(&self.token, method, retry_after)
                        .await;
                    if throttled >= MAX_CONSECUTIVE_429 || retry_after > config.max_retry_after {
                        tracing::warn!(
                            method = method.name(),
                            status = 429,
                            attempt = throttled,
                            retry_after_ms = retry_after.as_millis(),
                            "WB keeps rate limiting the call; giving up"
                        );
                        return Err(WbError::RateLimited);
                    }
                    tracing::warn!(
                        method = method.name(),
                        status = 429,
                        attempt = throttled,
                        retry_after_ms = retry_after.as_millis(),
                        "WB rate limited the call; retrying after the wait it asked for"
                    );
                    self.bump(&self.counters.retries);
                    tokio::time::sleep(retry_after).await;
                    continue;
                }
                Attempt::Answer { status, body, .. } => {
                    self.record(method, Outcome::Status(status));
                    throttled = 0;
                    match status {
                        200..=299 => return Ok(Answer { status, body }),
                        401 => {
                            let Some((slot, _)) = secret else {
                                return Err(WbError::Unauthorized);
                            };
                            if !self.secret_at_fault(method, &body).await? {
                                return Err(WbError::Unauthorized);
                            }
                            // Try the next secret once (WB's overlap of old and new).
                            if self.client.secret_refused(slot, method) {
                                continue;
                            }
                            return Err(WbError::SecretRejected);
                        }
                        402 => {
                            if let Some(m) = &self.client.metrics {
                                m.payment_required();
                            }
                            tracing::error!(
                                method = method.name(),
                                status,
                                "Wildberries answered 402: our service balance is empty"
                            );
                            return Err(WbError::ServiceUnpaid);
                        }
                        403 => return Err(WbError::Forbidden),
                        500..=599 => WbError::Unavailable { status },
                        _ => {
                            let detail =
                                problem_detail(&self.redact(&String::from_utf8_lossy(&body)));
                            tracing::warn!(
                                method = method.name(),
                                status,
                                detail,
                                "WB rejected the request"
                            );
                            return Err(WbError::Rejected { status });
                        }
                    }
                }
                Attempt::Timeout => {
                    self.record(method, Outcome::Timeout);
                    WbError::Timeout
                }
                Attempt::Transport(message) => {
                    self.record(method, Outcome::Transport);
                    WbError::Transport(message)
                }
            };

            if failures >= config.max_retries {
                return Err(failure);
            }
            failures += 1;
            self.bump(&self.counters.retries);
            let wait = retry::backoff(config.backoff_base, config.backoff_cap, failures);
            tracing::warn!(
                method = method.name(),
                status = match &failure {
                    WbError::Unavailable { status } => *status,
                    _ => 0,
                },
                error = failure.code(),
                attempt = failures,
                backoff_ms = wait.as_millis(),
                "WB call failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

async fn attempt(request: reqwest::RequestBuilder) -> Attempt {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let status = response.status().as_u16();
    let retry_after = retry::retry_after(response.headers());
    if status == 429 {
        // The body is a problem+json with nothing we act on.
        return Attempt::Answer {
            status,
            retry_after,
            body: Vec::new(),
        };
    }
    match response.bytes().await {
        Ok(body) => Attempt::Answer {
            status,
            retry_after,
            body: body.to_vec(),
        },
        Err(e) => failed(e),
    }
}

fn failed(e: reqwest::Error) -> Attempt {
    if e.is_timeout() {
        return Attempt::Timeout;
    }
    // reqwest's Display names the URL; the chain of sources says what actually failed.
    // Neither contains headers, so the token cannot leak through here.
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Attempt::Transport(message)
}

fn http_verb(method: Method) -> reqwest::Method {
    match method {
        Method::CardsList
        | Method::StocksReportWbWarehouses
        | Method::StocksReportSellerWarehouses
        | Method::SellerStocks => reqwest::Method::POST,
        Method::Ping(_)
        | Method::WarehouseRemainsCreate
        | Method::WarehouseRemainsStatus
        | Method::WarehouseRemainsDownload
        | Method::SellerWarehouses
        | Method::SupplierOrders
        | Method::SupplierSales => reqwest::Method::GET,
    }
}

/// WB's `title: detail` from an error body, shortened, for the log.
fn problem_detail(body: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
            format!("{}: {}", field("title"), field("detail"))
        }
        Err(_) => body.to_string(),
    };
    text.chars().take(300).collect()
}

impl WbSession {
    /// Parses a 2xx body, naming the method in the error so the sync log says what broke.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        method: Method,
        answer: &Answer,
    ) -> Result<T, WbError> {
        // serde quotes offending values; keep the message short and token-free even if
        // a body were to echo the token back.
        // Redact before shortening: a cut-off token would no longer match.
        let short = |text: &str| -> String { self.redact(text).chars().take(300).collect() };
        crate::models::parse(&answer.body).map_err(|e| match e {
            ParseError::Field { field, problem } => WbError::BadField {
                method: method.name(),
                field: short(&field),
                problem: short(&problem),
            },
            ParseError::Syntax(e) => {
                WbError::BadResponse(short(&format!("{}: {e}", method.name())))
            }
        })
    }

    /// Like [`WbSession::decode`], with 204 No Content (WB's "no data") as an empty list.
    pub(crate) fn decode_list<T: DeserializeOwned>(
        &self,
        method: Method,
        answer: &Answer,
    ) -> Result<Vec<T>, WbError> {
        if answer.status == 204 || answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        self.decode(method, answer)
    }

    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.client.config.client_secrets {
            if !secret.expose().is_empty() {
                out = out.replace(secret.expose().as_str(), "[redacted]");
            }
        }
        let token = self.token.expose().trim();
        if token.is_empty() {
            return out;
        }
        out = out.replace(token, "[redacted]");
        // A truncated copy could still carry most of the signature.
        if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() >= 8) {
            out = out.replace(signature, "[redacted]");
        }
        out
    }
}
