//! Redis connection: caches, shared rate budgets and login throttling live here.
//!
//! The connection is lazy and every command has a short timeout, so a Redis outage slows
//! nothing down: callers treat an error as "no cache" and carry on from PostgreSQL.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

pub type Redis = ConnectionManager;

pub fn connect(url: &str) -> anyhow::Result<Redis> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    Ok(ConnectionManager::new_lazy_with_config(client, config)?)
}

/// `PING`, for readiness checks.
pub async fn ping(redis: &Redis) -> anyhow::Result<()> {
    let mut conn = redis.clone();
    let _: String = redis::cmd("PING").query_async(&mut conn).await?;
    Ok(())
}

/// Claims `key` for `period` if nobody holds it (`SET NX PX`): `Ok(None)` when this caller got
/// it, `Ok(Some(wait))` with the time left when someone else did. For "at most once per
/// period" limits shared by every replica.
pub async fn claim_once(
    redis: &Redis,
    key: &str,
    period: Duration,
) -> anyhow::Result<Option<Duration>> {
    let mut conn = redis.clone();
    let millis = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
    let (claimed, left): (Option<String>, i64) = redis::pipe()
        .cmd("SET")
        .arg(key)
        .arg(1)
        .arg("NX")
        .arg("PX")
        .arg(millis)
        .pttl(key)
        .query_async(&mut conn)
        .await?;
    Ok(match claimed {
        Some(_) => None,
        None => Some(Duration::from_millis(left.max(1).unsigned_abs())),
    })
}
