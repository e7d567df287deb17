//! The sync job consumer: apalis on the PostgreSQL queue, one [`Syncer`] run per job.

use crate::config::WorkerConfig;
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage, Pubsub};
use stock_tracker_shared::cache::TenantCache;
use stock_tracker_shared::jobs::{SYNC_QUEUE, SyncJob};
use stock_tracker_shared::service::Connections;
use stock_tracker_shared::sync::Syncer;
use stock_tracker_shared::vault::Vault;
use stock_tracker_shared::wb::WbClient;

async fn handle(job: SyncJob, syncer: Data<Syncer>) -> Result<(), BoxDynError> {
    syncer.run(job).await.map(|_| ()).map_err(|e| {
        tracing::error!(run_id = %job.run_id, error = %e, "sync job failed; it will be retried");
        e.into()
    })
}

/// A name no other process (or an earlier run of this one) has used: apalis keeps jobs
/// of a worker name that re-registers stuck in Running.
fn worker_name() -> String {
    format!(
        "sync-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Consumes sync jobs until `shutdown` resolves.
pub async fn run(
    config: &WorkerConfig,
    c: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let prefix = &config.common.redis_key_prefix;
    let name = worker_name();
    let syncer = Syncer {
        db: c.db.clone(),
        vault: Vault::new(config.common.credentials_keys.clone()),
        wb: WbClient::new(config.wb.clone(), c.redis.clone(), prefix)?,
        cache: TenantCache::new(c.redis.clone(), prefix, config.cache_ttl),
        worker: name.clone(),
    };
    // New jobs wake the worker through LISTEN/NOTIFY; the interval catches what a
    // notification can miss (a listener reconnecting after a PostgreSQL restart, jobs
    // scheduled for later).
    let wake = Strategy::new()
        .stream(Pubsub::new(c.db.clone(), SYNC_QUEUE.to_string()))
        .interval(config.poll_interval);
    let storage = PostgresStorage::<SyncJob>::new(&c.db)
        .with_config(Config::default().queue(SYNC_QUEUE))
        .poll_with_strategy(wake);
    let worker = WorkerBuilder::new(name.as_str())
        .backend(storage)
        .data(syncer)
        .concurrency(config.concurrency)
        .build(handle);
    tracing::info!(worker = %name, concurrency = config.concurrency, "worker ready");
    worker
        .run_until(async {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    Ok(())
}
