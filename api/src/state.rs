use crate::auth::access::AccessTokens;
use crate::auth::device::DeviceTokens;
use crate::auth::password::Passwords;
use crate::auth::role_cache::RoleCache;
use crate::auth::throttle::LoginThrottle;
use crate::config::ApiConfig;
use crate::http::app_metrics::AppMetrics;
use crate::http::client_ip::ClientIpResolver;
use crate::http::invalidations;
use crate::http::metrics::HttpMetrics;
use crate::http::process_cache::ProcessCache;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use std::sync::Arc;
use stock_tracker_shared::billing::usage::UsageCounter;
use stock_tracker_shared::cache::{TenantCache, invalidations_channel};
use stock_tracker_shared::kv::{self, Redis};
use stock_tracker_shared::tenancy::pool;
use stock_tracker_shared::vault::Vault;
use stock_tracker_stripe::stripe::StripeApi;
use stock_tracker_wb::{WbClient, WbMetrics};

/// Everything a handler may need, built once at start-up. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ApiConfig>,
    pub db: PgPool,
    pub redis: Redis,
    pub access: Arc<AccessTokens>,
    pub devices: Arc<DeviceTokens>,
    pub passwords: Passwords,
    pub throttle: Arc<LoginThrottle>,
    pub client_ip: ClientIpResolver,
    pub http_metrics: Arc<HttpMetrics>,
    pub registry: Arc<Registry>,
    pub vault: Vault,
    pub wb: WbClient,
    pub cache: TenantCache,
    /// This process's layer in front of `cache` and `roles` (see `http::process_cache`).
    pub process_cache: Arc<ProcessCache>,
    pub roles: Arc<RoleCache>,
    pub app_metrics: Arc<AppMetrics>,
    /// None without Stripe settings: billing endpoints that need Stripe answer 503.
    pub stripe: Option<StripeApi>,
    pub usage: UsageCounter,
}

impl AppState {
    /// Connections are lazy: the api starts while PostgreSQL or Redis is down and reports
    /// "not ready" until they are back.
    pub fn new(config: ApiConfig) -> anyhow::Result<Self> {
        let db = pool::connect_lazy(
            config.common.database_url.expose(),
            config.common.database_max_connections,
            config.common.database_session,
        )?;
        let redis = kv::connect(config.common.redis_url.expose())?;
        let mut registry = Registry::with_prefix("stock_tracker");
        let http_metrics = Arc::new(HttpMetrics::register(&mut registry));
        let app_metrics = Arc::new(AppMetrics::register(&mut registry));
        let stripe = config
            .billing
            .stripe
            .clone()
            .map(StripeApi::new)
            .transpose()?;
        let prefix = &config.common.redis_key_prefix;
        // The api calls WB only while a seller waits (checking a token): one retry, not
        // the worker's patient schedule.
        let mut wb_config = config.wb.clone();
        wb_config.max_retries = wb_config.max_retries.min(1);
        let wb = WbClient::new(wb_config, redis.clone(), prefix)?
            .with_metrics(WbMetrics::register(&mut registry));
        let process_cache = Arc::new(ProcessCache::new(
            config.cache_process_max_bytes,
            usize::try_from(config.cache_max_entries).unwrap_or(usize::MAX),
        ));
        invalidations::listen(
            redis::Client::open(config.common.redis_url.expose().as_str())?,
            invalidations_channel(prefix),
            process_cache.clone(),
        );
        Ok(Self {
            process_cache,
            vault: Vault::new(config.credentials_keys.clone()),
            wb,
            cache: TenantCache::new(redis.clone(), prefix, config.cache_ttl)
                .with_max_entries(config.cache_max_entries),
            roles: Arc::new(RoleCache::new(
                redis.clone(),
                prefix,
                config.jwt_secret.expose(),
            )),
            access: Arc::new(AccessTokens::new(
                config.jwt_secret.expose(),
                &config.public_base_url,
                config.access_token_ttl,
            )),
            devices: Arc::new(DeviceTokens::new(config.jwt_secret.expose())),
            passwords: Passwords::new(config.password_hash_concurrency)?,
            throttle: Arc::new(LoginThrottle::new(
                redis.clone(),
                &config.common.redis_key_prefix,
                config.login_free_failures,
                config.login_max_delay,
            )),
            client_ip: ClientIpResolver::new(config.trusted_proxies.clone()),
            http_metrics,
            app_metrics,
            stripe,
            usage: UsageCounter::new(redis.clone(), prefix),
            registry: Arc::new(registry),
            db,
            redis,
            config: Arc::new(config),
        })
    }
}
