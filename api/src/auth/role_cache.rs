//! Members' roles cached in Redis, so an authenticated read costs no PostgreSQL round trip
//! when its answer is cached too. Entries are dropped when a member is removed, and live at
//! most a minute, so a change made while Redis was unreachable is not held for long. With
//! Redis down every request asks PostgreSQL.

use std::time::Duration;
use stock_tracker_shared::accounts::Role;
use stock_tracker_shared::ids::{TenantId, UserId};
use stock_tracker_shared::kv::Redis;

const TTL: Duration = Duration::from_secs(60);

pub struct RoleCache {
    redis: Redis,
    prefix: String,
}

impl RoleCache {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, tenant: TenantId, user: UserId) -> String {
        format!("{}role:{tenant}:{user}", self.prefix)
    }

    pub async fn get(&self, tenant: TenantId, user: UserId) -> Option<Role> {
        let mut conn = self.redis.clone();
        let cached: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(self.key(tenant, user))
            .query_async(&mut conn)
            .await;
        cached.ok().flatten().and_then(|r| r.parse().ok())
    }

    pub async fn put(&self, tenant: TenantId, user: UserId, role: Role) {
        let mut conn = self.redis.clone();
        let _: redis::RedisResult<()> = redis::cmd("SET")
            .arg(self.key(tenant, user))
            .arg(role.as_str())
            .arg("EX")
            .arg(TTL.as_secs())
            .query_async(&mut conn)
            .await;
    }

    pub async fn forget(&self, tenant: TenantId, user: UserId) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(self.key(tenant, user))
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %tenant, %user, "role cache entry not dropped; it expires within a minute");
        }
    }
}
