//! The api binary's settings (on top of [`CommonConfig`]).

use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;
use stock_tracker_shared::Secret;
use stock_tracker_shared::billing::BillingConfig;
use stock_tracker_shared::config::{CommonConfig, ConfigError, CredentialKeys, Env};
use stock_tracker_shared::tenancy::pool::SessionLimits;
use stock_tracker_wb::{TokenPolicy, WbConfig};

#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub common: CommonConfig,
    /// Seals the WB tokens sellers connect.
    pub credentials_keys: CredentialKeys,
    pub wb: WbConfig,
    /// Which WB token types sellers may connect (`WB_ACCEPTED_TOKEN_TYPES`, `WB_SERVICE_ID`).
    pub token_policy: TokenPolicy,
    /// How long a cached read lives (sync completion drops it sooner).
    pub cache_ttl: Duration,
    /// Cached answers one tenant may have per sync (distinct questions beyond it are served
    /// uncached), so one tenant cannot crowd the others out of Redis.
    pub cache_max_entries: u64,
    /// Bytes of answers each api process keeps in its own memory in front of Redis (zero
    /// turns that layer off).
    pub cache_process_max_bytes: usize,
    pub bind: SocketAddr,
    pub public_base_url: String,
    pub jwt_secret: Secret<Vec<u8>>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// A sign-in's absolute lifetime: refreshing never extends a session past it.
    pub refresh_family_max_age: Duration,
    pub invitation_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` is believed; empty means use the peer address only.
    pub trusted_proxies: Vec<IpNet>,
    pub body_limit_bytes: usize,
    /// Per-address limit on /api/v1/auth: a burst, refilled one request per period.
    pub auth_rate_burst: u32,
    pub auth_rate_period: Duration,
    /// Failed logins allowed before each further attempt must wait (doubling, capped).
    pub login_free_failures: u32,
    pub login_max_delay: Duration,
    /// Concurrent Argon2 hashes; each takes ~19 MiB and a core for tens of milliseconds.
    pub password_hash_concurrency: usize,
    pub shutdown_grace: Duration,
    /// The longest a request may take end to end; it then answers 503 `request_timeout`.
    pub request_timeout: Duration,
    pub billing: BillingConfig,
    /// Bearer token that gets the detail of `/health/ready` (which check failed and why).
    /// Unset: nobody gets it over HTTP; the log has it either way.
    pub operator_token: Option<Secret<String>>,
}

/// The value `.env.example` ships: a deployment that copied it as it is must not start.
const EXAMPLE_JWT_SECRET: &str = "change-me-at-least-32-characters-long-random-string";

/// Anyone who knows the HS256 key can sign in as anyone, so a short, guessable or example
/// key stops the api at start-up. Randomness cannot be proven; a key of at least 32
/// characters with at least 16 different ones rules out example values, repeated words and
/// keyboard runs, and `openssl rand -base64 48` passes it.
fn check_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if secret.len() < 32 {
        Err(ConfigError::malformed(
            "JWT_SECRET",
            "must be at least 32 characters",
        ))
    } else if secret == EXAMPLE_JWT_SECRET || secret.contains("change-me") {
        Err(ConfigError::malformed(
            "JWT_SECRET",
            "is the example value; generate one with `openssl rand -base64 48`",
        ))
    } else if distinct < 16 {
        Err(ConfigError::malformed(
            "JWT_SECRET",
            "is too predictable (fewer than 16 different characters); generate one with \
             `openssl rand -base64 48`",
        ))
    } else {
        Ok(())
    }
}

/// `OPERATOR_TOKEN`, optional; long enough that guessing it through the public
/// `/health/ready` is hopeless.
fn operator_token(env: &Env) -> Result<Option<Secret<String>>, ConfigError> {
    match env.optional("OPERATOR_TOKEN") {
        None => Ok(None),
        Some(t) if t.len() < 32 => Err(ConfigError::malformed(
            "OPERATOR_TOKEN",
            "must be at least 32 characters; generate one with `openssl rand -hex 32`",
        )),
        Some(t) => Ok(Some(Secret::new(t))),
    }
}

fn seconds(env: &Env, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(env.parse_or(name, default)?))
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut common = CommonConfig::from_env(env)?;
        common.database_session = SessionLimits::from_env(env, SessionLimits::API)?;
        let jwt_secret = env.required("JWT_SECRET")?;
        check_jwt_secret(&jwt_secret)?;
        let public_base_url = env.required("PUBLIC_BASE_URL")?;
        if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "PUBLIC_BASE_URL",
                "expected an http(s):// URL",
            ));
        }
        let trusted_proxies = env
            .optional("TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::malformed(
                            "TRUSTED_PROXIES",
                            "expected IPs or CIDRs, comma-separated",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let auth_rate_burst: u32 = env.parse_or("AUTH_RATE_LIMIT_BURST", 20)?;
        let auth_rate_period_ms: u64 = env.parse_or("AUTH_RATE_LIMIT_PERIOD_MS", 3000)?;
        if auth_rate_burst == 0 || auth_rate_period_ms == 0 {
            return Err(ConfigError::malformed(
                "AUTH_RATE_LIMIT_BURST",
                "burst and period must be positive",
            ));
        }
        Ok(Self {
            bind: env.parse_or("API_BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            jwt_secret: Secret::new(jwt_secret.into_bytes()),
            access_token_ttl: seconds(env, "ACCESS_TOKEN_TTL_SECS", 15 * 60)?,
            refresh_token_ttl: seconds(env, "REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            refresh_family_max_age: seconds(env, "REFRESH_FAMILY_MAX_AGE_SECS", 90 * 24 * 3600)?,
            invitation_ttl: seconds(env, "INVITATION_TTL_SECS", 7 * 24 * 3600)?,
            trusted_proxies,
            body_limit_bytes: env.parse_or("BODY_LIMIT_BYTES", 256 * 1024)?,
            auth_rate_burst,
            auth_rate_period: Duration::from_millis(auth_rate_period_ms),
            login_free_failures: env.parse_or("LOGIN_FREE_FAILURES", 5)?,
            login_max_delay: seconds(env, "LOGIN_MAX_DELAY_SECS", 300)?,
            password_hash_concurrency: env.parse_or("PASSWORD_HASH_CONCURRENCY", 4)?,
            shutdown_grace: seconds(env, "SHUTDOWN_GRACE_SECS", 25)?,
            request_timeout: match seconds(env, "REQUEST_TIMEOUT_SECS", 30)? {
                d if d.is_zero() => {
                    return Err(ConfigError::malformed(
                        "REQUEST_TIMEOUT_SECS",
                        "must be at least 1 second",
                    ));
                }
                d => d,
            },
            billing: {
                let billing = BillingConfig::from_env(env, &public_base_url)?;
                // The api is the one binary that receives Stripe's webhooks.
                if let Some(stripe) = &billing.stripe {
                    stripe.require_webhook_secrets()?;
                }
                billing
            },
            operator_token: operator_token(env)?,
            wb: WbConfig::from_env(env)?,
            token_policy: TokenPolicy::from_env(env)?,
            cache_ttl: seconds(env, "CACHE_TTL_SECS", 300)?,
            cache_max_entries: env.parse_or(
                "CACHE_MAX_ENTRIES_PER_TENANT",
                stock_tracker_shared::cache::DEFAULT_MAX_ENTRIES,
            )?,
            cache_process_max_bytes: env.parse_or("CACHE_PROCESS_MAX_BYTES", 64 << 20)?,
            common,
            credentials_keys: CredentialKeys::from_env(env)?,
        })
    }
}
