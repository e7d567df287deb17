//! The monthly API-call quota: calls made with API keys, counted per tenant and billing
//! period in Redis (one round trip per call) and written through to PostgreSQL, so that a
//! lost Redis neither resets anyone's count nor stops the API.

use crate::ids::TenantId;
use crate::kv::Redis;
use crate::tenancy::{self, Scope};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Where a tenant stands against its quota after a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub limit: i64,
    pub used: i64,
    /// When the period ends and the count starts again.
    pub resets_at: DateTime<Utc>,
}

impl Quota {
    pub fn remaining(&self) -> i64 {
        (self.limit - self.used).max(0)
    }

    pub fn exceeded(&self) -> bool {
        self.used > self.limit
    }
}

#[derive(Clone)]
pub struct UsageCounter {
    redis: Redis,
    prefix: String,
}

impl UsageCounter {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, tenant: TenantId, period_start: DateTime<Utc>) -> String {
        format!("{}usage:{tenant}:{}", self.prefix, period_start.timestamp())
    }

    /// Counts one call in the period `[start, end)` and says where the tenant stands.
    pub async fn count_call(
        &self,
        db: &PgPool,
        tenant: TenantId,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        limit: i64,
    ) -> anyhow::Result<Quota> {
        let used = match self.incr(db, tenant, start, end).await {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!(error = %e, "Redis unavailable; counting the API call in PostgreSQL");
                add_in_db(db, tenant, start).await?
            }
        };
        let db = db.clone();
        // Written through off the request's path; `greatest` makes late writes harmless.
        tokio::spawn(async move {
            if let Err(e) = persist(&db, tenant, start, used).await {
                tracing::warn!(error = %e, "could not persist API usage");
            }
        });
        Ok(Quota {
            limit,
            used,
            resets_at: end,
        })
    }

    async fn incr(
        &self,
        db: &PgPool,
        tenant: TenantId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let key = self.key(tenant, start);
        let mut conn = self.redis.clone();
        let mut used: i64 = redis::cmd("INCR").arg(&key).query_async(&mut conn).await?;
        if used == 1 {
            // A new key: carry over what PostgreSQL has seen of this period (Redis was
            // flushed, or this is the first call), and let the key outlive the period a day.
            let seen = used_in_db(db, tenant, start).await?;
            if seen > 0 {
                used = redis::cmd("INCRBY")
                    .arg(&key)
                    .arg(seen)
                    .query_async(&mut conn)
                    .await?;
            }
            let ttl = (end - Utc::now()).num_seconds().max(0) + 86_400;
            let _: () = redis::cmd("EXPIRE")
                .arg(&key)
                .arg(ttl)
                .query_async(&mut conn)
                .await?;
        }
        Ok(used)
    }

    /// Calls counted so far in the period (Redis first, PostgreSQL if it has none).
    pub async fn used(
        &self,
        db: &PgPool,
        tenant: TenantId,
        start: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let mut conn = self.redis.clone();
        let cached: redis::RedisResult<Option<i64>> = redis::cmd("GET")
            .arg(self.key(tenant, start))
            .query_async(&mut conn)
            .await;
        let from_db = used_in_db(db, tenant, start).await?;
        Ok(cached.ok().flatten().unwrap_or(0).max(from_db))
    }
}

async fn used_in_db(db: &PgPool, tenant: TenantId, start: DateTime<Utc>) -> sqlx::Result<i64> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let used: Option<i64> =
        sqlx::query_scalar("select calls from api_usage where period_start = $1")
            .bind(start)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(used.unwrap_or(0))
}

async fn persist(
    db: &PgPool,
    tenant: TenantId,
    start: DateTime<Utc>,
    used: i64,
) -> sqlx::Result<()> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    sqlx::query(
        "insert into api_usage (tenant_id, period_start, calls) values ($1, $2, $3)
         on conflict (tenant_id, period_start)
         do update set calls = greatest(api_usage.calls, excluded.calls), updated_at = now()",
    )
    .bind(tenant)
    .bind(start)
    .bind(used)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn add_in_db(db: &PgPool, tenant: TenantId, start: DateTime<Utc>) -> sqlx::Result<i64> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let used: i64 = sqlx::query_scalar(
        "insert into api_usage (tenant_id, period_start, calls) values ($1, $2, 1)
         on conflict (tenant_id, period_start)
         do update set calls = api_usage.calls + 1, updated_at = now()
         returning calls",
    )
    .bind(tenant)
    .bind(start)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(used)
}

/// Products the tenant tracks now.
pub async fn products_tracked(tx: &mut tenancy::Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from products")
        .fetch_one(&mut **tx)
        .await
}

/// Syncs queued since `since` (all, and started by hand).
pub async fn syncs_since(tx: &mut tenancy::Tx, since: DateTime<Utc>) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "select count(*), count(*) filter (where trigger = 'manual')
           from sync_runs where queued_at >= $1",
    )
    .bind(since)
    .fetch_one(&mut **tx)
    .await
}
