//! The monthly API-call quota: calls made with API keys, counted per tenant and billing
//! period in Redis (one round trip per call) and written through to PostgreSQL, so that a
//! lost Redis neither resets anyone's count nor stops the API.
//!
//! The write-through is off the request's path but bounded: one task per counter drains a
//! bounded queue, coalescing the counts of a (tenant, period) to the highest before it
//! writes. When the queue is full (PostgreSQL slow, a burst of calls), a count goes to an
//! overflow map instead, coalesced the same way (at most one entry per tenant and period),
//! which the writer takes with every batch: no call waits and no count is dropped.
//! [`UsageCounter::flush`] waits until everything counted before it is in PostgreSQL (the
//! api calls it on shutdown).

use crate::ids::TenantId;
use crate::kv::Redis;
use crate::tenancy::{self, Scope};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Counts waiting to be written; past this a count goes to the overflow map, which the
/// writer takes with its next batch.
const QUEUE: usize = 1024;

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
    /// Started on the first count (inside the runtime), shared by every clone.
    writer: Arc<OnceLock<Writer>>,
}

/// The write-through task, its queue and its overflow. The task ends once every clone of
/// the counter (and so the sender) is gone, after writing what was queued.
struct Writer {
    queue: mpsc::Sender<Message>,
    overflow: Arc<Mutex<Pending>>,
    _task: JoinHandle<()>,
}

enum Message {
    Count(Count),
    Flush(oneshot::Sender<()>),
    /// Something is in the overflow map.
    Wake,
}

/// Counts waiting to be written, the highest per (tenant, period start).
type Pending = HashMap<(TenantId, DateTime<Utc>), Count>;

fn coalesce(pending: &mut Pending, count: Count) {
    match pending.entry((count.tenant, count.start)) {
        Entry::Occupied(mut seen) => {
            let used = &mut seen.get_mut().used;
            *used = (*used).max(count.used);
        }
        Entry::Vacant(slot) => {
            slot.insert(count);
        }
    }
}

struct Count {
    db: PgPool,
    tenant: TenantId,
    start: DateTime<Utc>,
    used: i64,
}

impl UsageCounter {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            writer: Arc::new(OnceLock::new()),
        }
    }

    fn writer(&self) -> &Writer {
        self.writer.get_or_init(|| {
            let (queue, rx) = mpsc::channel(QUEUE);
            let overflow = Arc::new(Mutex::new(Pending::new()));
            Writer {
                queue,
                _task: tokio::spawn(write_through(rx, overflow.clone())),
                overflow,
            }
        })
    }

    /// Returns once every count made before this call is written to PostgreSQL (or its
    /// write has failed and been logged).
    pub async fn flush(&self) {
        let Some(writer) = self.writer.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if writer.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
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
        // Written through off the request's path; `greatest` makes late writes harmless.
        let count = Count {
            db: db.clone(),
            tenant,
            start,
            used,
        };
        let writer = self.writer();
        match writer.queue.try_send(Message::Count(count)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Message::Count(count))) => {
                // The writer is behind: coalesce beside the queue rather than pile up work.
                coalesce(
                    &mut writer.overflow.lock().unwrap_or_else(|e| e.into_inner()),
                    count,
                );
                // A full queue means another batch is coming anyway; otherwise this wakes
                // the writer for the overflow.
                let _ = writer.queue.try_send(Message::Wake);
            }
            Err(e) => {
                // The writer has stopped (it only does when the counter is dropped): write
                // this count on the call's path.
                if let Message::Count(count) = e.into_inner() {
                    count.persist().await;
                }
            }
        }
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

/// The writer's loop: take what is queued, keep the highest count per (tenant, period),
/// add the overflow, write those, then answer the flushes that were queued behind them.
async fn write_through(mut rx: mpsc::Receiver<Message>, overflow: Arc<Mutex<Pending>>) {
    let mut pending = Pending::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // At most a queue's worth per batch, so a steady stream still gets written.
        for _ in 0..QUEUE {
            let Some(message) = next.take().or_else(|| rx.try_recv().ok()) else {
                break;
            };
            match message {
                Message::Count(c) => coalesce(&mut pending, c),
                Message::Flush(done) => flushes.push(done),
                Message::Wake => {}
            }
        }
        let spilled = std::mem::take(&mut *overflow.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, c) in spilled {
            coalesce(&mut pending, c);
        }
        for (_, count) in pending.drain() {
            count.persist().await;
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

impl Count {
    async fn persist(&self) {
        if let Err(e) = persist(&self.db, self.tenant, self.start, self.used).await {
            tracing::warn!(error = %e, tenant = %self.tenant, "could not persist API usage");
        }
    }
}

async fn used_in_db(db: &PgPool, tenant: TenantId, start: DateTime<Utc>) -> sqlx::Result<i64> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let used = sqlx::query_scalar!("select calls from api_usage where period_start = $1", start)
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
    sqlx::query!(
        "insert into api_usage (tenant_id, period_start, calls) values ($1, $2, $3)
         on conflict (tenant_id, period_start)
         do update set calls = greatest(api_usage.calls, excluded.calls), updated_at = now()",
        tenant as TenantId,
        start,
        used,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn add_in_db(db: &PgPool, tenant: TenantId, start: DateTime<Utc>) -> sqlx::Result<i64> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let used = sqlx::query_scalar!(
        "insert into api_usage (tenant_id, period_start, calls) values ($1, $2, 1)
         on conflict (tenant_id, period_start)
         do update set calls = api_usage.calls + 1, updated_at = now()
         returning calls",
        tenant as TenantId,
        start,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(used)
}

/// Products the tenant tracks now.
pub async fn products_tracked(tx: &mut tenancy::Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from products"#)
        .fetch_one(&mut **tx)
        .await
}

/// Syncs queued since `since` (all, and started by hand).
pub async fn syncs_since(tx: &mut tenancy::Tx, since: DateTime<Utc>) -> sqlx::Result<(i64, i64)> {
    let counts = sqlx::query!(
        r#"select count(*) as "all!", count(*) filter (where trigger = 'manual') as "manual!"
             from sync_runs where queued_at >= $1"#,
        since
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((counts.all, counts.manual))
}
