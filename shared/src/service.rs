//! Start-up steps shared by the background binaries (worker, scheduler).

use crate::config::CommonConfig;
use crate::kv::{self, Redis};
use crate::tenancy::pool;
use sqlx::PgPool;
use std::time::Duration;

pub struct Connections {
    pub db: PgPool,
    pub redis: Redis,
}

/// Connects to PostgreSQL and Redis, waiting (with a capped back-off) until both answer, so
/// that a binary started before its dependencies comes up by itself instead of crashing.
/// Refuses a database role that could bypass tenant isolation.
pub async fn connect(config: &CommonConfig, service: &str) -> anyhow::Result<Connections> {
    let db = pool::connect_lazy(
        config.database_url.expose(),
        config.database_max_connections,
    )?;
    let redis = kv::connect(config.redis_url.expose())?;
    let mut delay = Duration::from_millis(250);
    loop {
        let db_state = pool::verify_app_role(&db).await;
        if let Err(
            e @ (pool::RoleError::Superuser(_)
            | pool::RoleError::BypassRls(_)
            | pool::RoleError::OwnsTables { .. }),
        ) = db_state
        {
            anyhow::bail!(e);
        }
        let redis_state = kv::ping(&redis).await;
        match (&db_state, &redis_state) {
            (Ok(()), Ok(())) => break,
            _ => {
                tracing::warn!(
                    service,
                    postgres = ?db_state.as_ref().err().map(ToString::to_string),
                    redis = ?redis_state.as_ref().err().map(ToString::to_string),
                    retry_in_ms = delay.as_millis() as u64,
                    "waiting for dependencies"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Ok(Connections { db, redis })
}
