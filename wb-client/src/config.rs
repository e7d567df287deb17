//! Settings of the Wildberries client, read from the environment through [`Env`].

use crate::limits::Host;
use std::time::Duration;
use stock_tracker_infra::Secret;
use stock_tracker_infra::env::{ConfigError, Env};

const DEFAULT_CONTENT_URL: &str = "https://content-api.wildberries.ru";
const DEFAULT_ANALYTICS_URL: &str = "https://seller-analytics-api.wildberries.ru";
const DEFAULT_MARKETPLACE_URL: &str = "https://marketplace-api.wildberries.ru";
const DEFAULT_STATISTICS_URL: &str = "https://statistics-api.wildberries.ru";

#[derive(Clone, Debug, PartialEq)]
pub struct WbConfig {
    /// Base URLs without a trailing slash.
    pub content_url: String,
    pub analytics_url: String,
    pub marketplace_url: String,
    pub statistics_url: String,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Retries after a 5xx, timeout or connection error (so `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Multiplies WB's published limits in our own budget; 0 turns the budget off.
    pub rate_limit_scale: f64,
    /// Test tokens are acceptable (the WB sandbox or our simulator).
    pub sandbox: bool,
    /// Exponential backoff with full jitter: attempt n sleeps up to `min(cap, base * 2^n)`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A 429 asking us to wait longer than this fails the call instead of parking the job.
    pub max_retry_after: Duration,
    /// Pause between warehouse_remains status polls (WB allows one per 5 s).
    pub remains_poll_interval: Duration,
    /// Give up on a warehouse_remains report after this many status polls.
    pub remains_max_polls: u32,
    /// Our service secret(s) for `X-Client-Secret` (`WB_CLIENT_SECRETS`): the current one
    /// first, during WB's 30-day overlap the next one after it. Empty: none is sent.
    pub client_secrets: Vec<Secret<String>>,
    /// The `User-Agent` every request carries, naming the product, version and a contact.
    pub user_agent: String,
}

/// `stock-tracker/<version>`, with `(+<contact>)` when a contact URL is configured.
pub fn user_agent(contact: Option<&str>) -> String {
    let product = concat!("stock-tracker/", env!("CARGO_PKG_VERSION"));
    match contact {
        Some(c) => format!("{product} (+{c})"),
        None => product.to_string(),
    }
}

impl WbConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let base = env
            .optional("WB_BASE_URL")
            .map(|v| base_url("WB_BASE_URL", &v))
            .transpose()?;
        let host_url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            match env.optional(name) {
                Some(v) => base_url(name, &v),
                None => Ok(base.clone().unwrap_or_else(|| default.to_string())),
            }
        };
        let timeout_ms: u64 = env.parse_or("WB_TIMEOUT_MS", 30_000)?;
        if !(1..=600_000).contains(&timeout_ms) {
            return Err(ConfigError::malformed(
                "WB_TIMEOUT_MS",
                "expected 1 to 600000 milliseconds",
            ));
        }
        let max_retries: u32 = env.parse_or("WB_MAX_RETRIES", 3)?;
        if max_retries > 10 {
            return Err(ConfigError::malformed("WB_MAX_RETRIES", "expected 0 to 10"));
        }
        let rate_limit_scale: f64 = env.parse_or("WB_RATE_LIMIT_SCALE", 1.0)?;
        if !rate_limit_scale.is_finite() || rate_limit_scale < 0.0 {
            return Err(ConfigError::malformed(
                "WB_RATE_LIMIT_SCALE",
                "expected a number >= 0 (0 disables the client-side budget)",
            ));
        }
        let sandbox = match env.optional("WB_SANDBOX") {
            None => false,
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::malformed("WB_SANDBOX", "expected true or false"))?,
        };
        let client_secrets: Vec<Secret<String>> = env.secret_list("WB_CLIENT_SECRETS");
        if client_secrets
            .iter()
            .any(|s| reqwest::header::HeaderValue::from_str(s.expose()).is_err())
        {
            // Never echo the value: it is a secret.
            return Err(ConfigError::malformed(
                "WB_CLIENT_SECRETS",
                "a secret holds characters an HTTP header cannot carry",
            ));
        }
        if client_secrets.len() > 2 {
            return Err(ConfigError::malformed(
                "WB_CLIENT_SECRETS",
                "expected the current secret and at most one next one",
            ));
        }
        let contact = env
            .optional("WB_USER_AGENT_CONTACT")
            .or_else(|| env.optional("PUBLIC_BASE_URL"));
        if contact.as_deref().is_some_and(|c| {
            c.chars()
                .any(|ch| ch.is_control() || !ch.is_ascii() || "()".contains(ch))
        }) {
            return Err(ConfigError::malformed(
                "WB_USER_AGENT_CONTACT",
                "expected a URL or e-mail address in plain ASCII",
            ));
        }
        Ok(Self {
            client_secrets,
            user_agent: user_agent(contact.as_deref().map(|c| c.trim_end_matches('/'))),
            content_url: host_url("WB_CONTENT_URL", DEFAULT_CONTENT_URL)?,
            analytics_url: host_url("WB_ANALYTICS_URL", DEFAULT_ANALYTICS_URL)?,
            marketplace_url: host_url("WB_MARKETPLACE_URL", DEFAULT_MARKETPLACE_URL)?,
            statistics_url: host_url("WB_STATISTICS_URL", DEFAULT_STATISTICS_URL)?,
            timeout: Duration::from_millis(timeout_ms),
            max_retries,
            rate_limit_scale,
            sandbox,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(300),
            remains_poll_interval: Duration::from_secs(5),
            remains_max_polls: 120,
        })
    }

    /// Every host at `url`, short timeouts and backoff: for tests against a local server.
    pub fn for_base_url(url: &str) -> Self {
        let url = url.trim_end_matches('/').to_string();
        Self {
            content_url: url.clone(),
            analytics_url: url.clone(),
            marketplace_url: url.clone(),
            statistics_url: url,
            timeout: Duration::from_secs(2),
            max_retries: 3,
            rate_limit_scale: 1.0,
            sandbox: false,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(30),
            remains_poll_interval: Duration::from_millis(20),
            remains_max_polls: 20,
            client_secrets: Vec::new(),
            user_agent: user_agent(None),
        }
    }

    pub fn url(&self, host: Host) -> &str {
        match host {
            Host::Content => &self.content_url,
            Host::Analytics => &self.analytics_url,
            Host::Marketplace => &self.marketplace_url,
            Host::Statistics => &self.statistics_url,
        }
    }
}

fn base_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let parsed = reqwest::Url::parse(raw)
        .map_err(|_| ConfigError::malformed(name, "expected an http(s):// URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::malformed(name, "expected an http(s):// URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::malformed(
            name,
            "expected a base URL without query or fragment",
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_wbs_hosts() {
        let cfg = WbConfig::from_env(&Env::default()).unwrap();
        assert_eq!(cfg.url(Host::Content), DEFAULT_CONTENT_URL);
        assert_eq!(cfg.url(Host::Analytics), DEFAULT_ANALYTICS_URL);
        assert_eq!(cfg.url(Host::Marketplace), DEFAULT_MARKETPLACE_URL);
        assert_eq!(cfg.url(Host::Statistics), DEFAULT_STATISTICS_URL);
        assert_eq!(cfg.timeout, Duration::from_secs(30));
        assert_eq!(cfg.max_retries, 3);
        assert_eq!(cfg.rate_limit_scale, 1.0);
        assert!(!cfg.sandbox);
        assert!(cfg.client_secrets.is_empty());
        assert_eq!(
            cfg.user_agent,
            concat!("stock-tracker/", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn client_secrets_and_user_agent() {
        let env = Env::from_pairs([
            ("WB_CLIENT_SECRETS", " current-secret , next-secret "),
            ("PUBLIC_BASE_URL", "https://stock-tracker.example/"),
        ]);
        let cfg = WbConfig::from_env(&env).unwrap();
        let secrets: Vec<&str> = cfg
            .client_secrets
            .iter()
            .map(|s| s.expose().as_str())
            .collect();
        assert_eq!(secrets, ["current-secret", "next-secret"]);
        assert!(
            cfg.user_agent
                .ends_with(" (+https://stock-tracker.example)"),
            "{}",
            cfg.user_agent
        );
        assert!(!format!("{cfg:?}").contains("current-secret"));
        let env = Env::from_pairs([("WB_CLIENT_SECRETS", "a,b,c")]);
        assert!(WbConfig::from_env(&env).is_err());
    }

    #[test]
    fn per_host_beats_base_beats_default() {
        let env = Env::from_pairs([
            ("WB_BASE_URL", "http://127.0.0.1:8081/"),
            ("WB_CONTENT_URL", "http://content.local:9000"),
            ("WB_TIMEOUT_MS", "1500"),
            ("WB_MAX_RETRIES", "0"),
            ("WB_RATE_LIMIT_SCALE", "0"),
            ("WB_SANDBOX", "true"),
        ]);
        let cfg = WbConfig::from_env(&env).unwrap();
        assert_eq!(cfg.content_url, "http://content.local:9000");
        assert_eq!(cfg.analytics_url, "http://127.0.0.1:8081");
        assert_eq!(cfg.statistics_url, "http://127.0.0.1:8081");
        assert_eq!(cfg.timeout, Duration::from_millis(1500));
        assert_eq!(cfg.max_retries, 0);
        assert_eq!(cfg.rate_limit_scale, 0.0);
        assert!(cfg.sandbox);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("WB_BASE_URL", "ftp://x"),
            ("WB_MARKETPLACE_URL", "not a url"),
            ("WB_TIMEOUT_MS", "0"),
            ("WB_TIMEOUT_MS", "soon"),
            ("WB_MAX_RETRIES", "-1"),
            ("WB_RATE_LIMIT_SCALE", "-0.5"),
            ("WB_RATE_LIMIT_SCALE", "NaN"),
            ("WB_SANDBOX", "maybe"),
        ] {
            let err = WbConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(&format!("{name} is malformed")), "{text}");
        }
    }
}
