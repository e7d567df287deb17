use std::time::Duration;
use stock_tracker_shared::billing::StripeConfig;
use stock_tracker_shared::config::{CommonConfig, ConfigError, CredentialKeys, Env};
use stock_tracker_shared::service::ServiceConfig;
use stock_tracker_shared::sync::Policy;
use stock_tracker_wb::WbConfig;

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub common: CommonConfig,
    /// Opens the tenants' WB tokens for syncing.
    pub credentials_keys: CredentialKeys,
    pub wb: WbConfig,
    /// Jobs one process runs at once.
    pub concurrency: usize,
    pub cache_ttl: Duration,
    /// How often an idle worker looks for jobs it was not notified of.
    pub poll_interval: Duration,
    /// Attempts per sync before it is dead-lettered.
    pub max_attempts: i32,
    /// First wait before retrying a broken attempt; doubles per attempt (with jitter),
    /// capped at ten minutes.
    pub retry_base: Duration,
    /// After SIGTERM, how long running jobs may take to finish before they are put back.
    pub shutdown_grace: Duration,
    /// Heartbeat period; a worker silent for three of them is presumed dead and its jobs
    /// are run again by the others.
    pub heartbeat: Duration,
    /// Where Prometheus scrapes this worker.
    pub metrics_bind: std::net::SocketAddr,
    /// A job running longer than this is reported as stuck.
    pub stuck_after: Duration,
    /// For the daily billing reconciliation; without Stripe settings there is nothing to
    /// reconcile and the job records that it skipped.
    pub stripe: Option<StripeConfig>,
    /// `SYNC_STOCK_REUSE_SECS` (default 1800: WB refreshes its stock reports every 30
    /// minutes) and `SYNC_FULL_LISTING_HOURS` (default 24).
    pub sync_policy: Policy,
}

impl ServiceConfig for WorkerConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let concurrency: usize = env.parse_or("WORKER_CONCURRENCY", 4)?;
        if concurrency == 0 {
            return Err(ConfigError::malformed(
                "WORKER_CONCURRENCY",
                "must be at least 1",
            ));
        }
        Ok(Self {
            common: CommonConfig::from_env(env)?,
            credentials_keys: CredentialKeys::from_env(env)?,
            wb: WbConfig::from_env(env)?,
            concurrency,
            cache_ttl: Duration::from_secs(env.parse_or("CACHE_TTL_SECS", 300)?),
            poll_interval: Duration::from_millis(env.parse_or("WORKER_POLL_INTERVAL_MS", 1000)?),
            max_attempts: env.parse_or("WORKER_MAX_ATTEMPTS", 5)?,
            retry_base: Duration::from_secs(env.parse_or("WORKER_RETRY_BASE_SECS", 10)?),
            shutdown_grace: Duration::from_secs(env.parse_or("WORKER_SHUTDOWN_GRACE_SECS", 25)?),
            heartbeat: Duration::from_secs(env.parse_or("WORKER_HEARTBEAT_SECS", 10)?.max(1)),
            metrics_bind: env.parse_or(
                "WORKER_METRICS_BIND",
                std::net::SocketAddr::from(([127, 0, 0, 1], 9101)),
            )?,
            stuck_after: Duration::from_secs(env.parse_or("WORKER_STUCK_AFTER_SECS", 1800)?),
            stripe: StripeConfig::from_env(env)?,
            sync_policy: Policy {
                stock_reuse: Duration::from_secs(env.parse_or("SYNC_STOCK_REUSE_SECS", 1800)?),
                full_listing_every: Duration::from_secs(
                    3600 * env.parse_or::<u64>("SYNC_FULL_LISTING_HOURS", 24)?.max(1),
                ),
            },
        })
    }
}
