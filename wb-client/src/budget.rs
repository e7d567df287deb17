//! The rate budget per (token, method), shared by every process through Redis.
//!
//! WB limits each seller account per method with a token bucket, and several workers may
//! sync the same seller at once, so a per-process limiter would still earn 429s. Each bucket
//! lives in Redis and is updated by one Lua script, so check-and-take is atomic across
//! processes; the script reads Redis' clock so hosts with skewed clocks still agree.
//!
//! Redis is an optimisation here, not a dependency: when it is unreachable the budget falls
//! back to an in-process bucket with the same arithmetic and retries Redis a little later.

use crate::limits::{Limit, Method};
use rand::Rng;
use redis::Script;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use stock_tracker_infra::Secret;
use stock_tracker_infra::kv::Redis;

/// KEYS[1] bucket hash {tokens, ts}, KEYS[2] block marker (unix ms until which nothing may
/// be sent). ARGV[1] refill per ms, ARGV[2] capacity, ARGV[3] bucket TTL in ms.
/// Returns 0 when a request was granted, else the milliseconds to wait (nothing is taken).
const ACQUIRE_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('GET', KEYS[2]))
if blocked and blocked > now then
  return blocked - now
end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if not tokens or not ts then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = tokens + (now - ts) * rate
  ts = now
end
tokens = math.min(capacity, tokens)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait
"#;

/// KEYS[1] block marker, KEYS[2] bucket hash. ARGV[1] block length in ms, ARGV[2] bucket TTL.
/// Never shortens an existing block. The bucket restarts at the block's end with a single
/// token: WB lets one request through then, and refills from there.
const BLOCK_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
local until_ms = now + ms
local current = tonumber(redis.call('GET', KEYS[1]))
if not current or until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', ms + 1000)
  redis.call('HSET', KEYS[2], 'tokens', '1', 'ts', tostring(until_ms))
  redis.call('PEXPIRE', KEYS[2], ms + tonumber(ARGV[2]))
end
return 0
"#;

/// How long Redis is left alone after a failure before the budget tries it again.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Upper bound on one Redis round trip, whatever the connection manager was built with.
const REDIS_CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// In-process buckets are pruned past this many entries (one per token and method).
const LOCAL_MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Redis,
    prefix: String,
    scale: f64,
    acquire: Script,
    block: Script,
    local: Mutex<Local>,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Local {
    buckets: HashMap<String, LocalBucket>,
    blocks: HashMap<String, Instant>,
}

struct LocalBucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Health {
    degraded: bool,
    retry_at: Option<Instant>,
}

/// A limit turned into bucket arithmetic after scaling.
#[derive(Clone, Copy)]
struct Rate {
    per_ms: f64,
    capacity: f64,
}

impl Rate {
    fn new(limit: Limit, scale: f64) -> Option<Self> {
        let per_ms = limit.per.as_secs_f64() * 1000.0;
        if scale <= 0.0 || per_ms <= 0.0 || limit.requests == 0 {
            return None;
        }
        Some(Self {
            per_ms: f64::from(limit.requests) * scale / per_ms,
            capacity: (f64::from(limit.burst.max(1)) * scale).max(1.0),
        })
    }

    /// Long enough for an idle bucket to refill completely, after which it is the same as
    /// no bucket at all.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=1 day
    fn ttl_ms(&self) -> u64 {
        (self.capacity / self.per_ms)
            .ceil()
            .clamp(0.0, 86_400_000.0) as u64
            + 1_000
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("prefix", &self.inner.prefix)
            .field("scale", &self.inner.scale)
            .finish_non_exhaustive()
    }
}

impl Budget {
    /// `scale` multiplies WB's limits; 0 (or less) disables the budget.
    pub fn new(redis: Redis, key_prefix: &str, scale: f64) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                prefix: key_prefix.to_string(),
                scale: if scale.is_finite() { scale } else { 0.0 },
                acquire: Script::new(ACQUIRE_LUA),
                block: Script::new(BLOCK_LUA),
                local: Mutex::new(Local::default()),
                health: Mutex::new(Health::default()),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.scale > 0.0
    }

    /// Waits until a request of `method` may be sent with `token`, takes one request from
    /// the budget and returns how long it waited.
    pub async fn acquire(&self, token: &Secret<String>, method: Method) -> Duration {
        self.acquire_limit(token, method, method.limit()).await
    }

    /// [`Budget::acquire`] with an explicit limit (base tokens have lower ones).
    pub async fn acquire_limit(
        &self,
        token: &Secret<String>,
        method: Method,
        limit: Limit,
    ) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            let wait = self.try_acquire_limit(token, method, limit).await;
            if wait.is_zero() {
                return waited;
            }
            // A little jitter keeps processes that wait for the same bucket from all
            // waking in the same millisecond and racing for one token.
            let sleep = wait + jitter(wait);
            tracing::debug!(
                method = method.name(),
                wait_ms = sleep.as_millis(),
                "waiting for WB rate budget"
            );
            tokio::time::sleep(sleep).await;
            waited += sleep;
        }
    }

    /// Takes one request if the budget allows it now and returns zero; otherwise takes
    /// nothing and returns how long to wait before asking again.
    pub async fn try_acquire(&self, token: &Secret<String>, method: Method) -> Duration {
        self.try_acquire_limit(token, method, method.limit()).await
    }

    pub async fn try_acquire_limit(
        &self,
        token: &Secret<String>,
        method: Method,
        limit: Limit,
    ) -> Duration {
        let Some(rate) = Rate::new(limit, self.inner.scale) else {
            return Duration::ZERO;
        };
        let key = self.key(token, method);
        // A 429 this process saw is honoured even when Redis is down.
        if let Some(wait) = self.local_block(&key) {
            return wait;
        }
        if self.redis_usable() {
            let block_key = format!("{key}:blocked");
            let mut conn = self.inner.redis.clone();
            let mut call = self.inner.acquire.prepare_invoke();
            call.key(&key)
                .key(&block_key)
                .arg(rate.per_ms)
                .arg(rate.capacity)
                .arg(rate.ttl_ms());
            match tokio::time::timeout(REDIS_CALL_TIMEOUT, call.invoke_async::<u64>(&mut conn))
                .await
            {
                Ok(Ok(wait_ms)) => {
                    self.redis_ok();
                    return Duration::from_millis(wait_ms);
                }
                Ok(Err(e)) => self.redis_failed(&e.to_string()),
                Err(_) => self.redis_failed("timed out"),
            }
        }
        self.local_take(&key, rate)
    }

    /// Records that nobody may call `method` with `token` for `retry_after` (from a 429's
    /// `X-Ratelimit-Retry`); every process's `acquire` waits it out.
    pub async fn block_until(&self, token: &Secret<String>, method: Method, retry_after: Duration) {
        let Some(rate) = Rate::new(method.limit(), self.inner.scale) else {
            return;
        };
        let key = self.key(token, method);
        let until = Instant::now() + retry_after;
        {
            let mut local = lock(&self.inner.local);
            let entry = local.blocks.entry(key.clone()).or_insert(until);
            if *entry < until {
                *entry = until;
            }
            local.buckets.insert(
                key.clone(),
                LocalBucket {
                    tokens: 1.0,
                    at: until,
                },
            );
        }
        if !self.redis_usable() {
            return;
        }
        let block_key = format!("{key}:blocked");
        let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX / 2);
        let mut conn = self.inner.redis.clone();
        let mut call = self.inner.block.prepare_invoke();
        call.key(&block_key).key(&key).arg(ms).arg(rate.ttl_ms());
        match tokio::time::timeout(REDIS_CALL_TIMEOUT, call.invoke_async::<i64>(&mut conn)).await {
            Ok(Ok(_)) => self.redis_ok(),
            Ok(Err(e)) => self.redis_failed(&e.to_string()),
            Err(_) => self.redis_failed("timed out"),
        }
    }

    /// `{prefix}wb:budget:{first 16 hex of sha256(token)}:{method}`: the token itself never
    /// reaches Redis.
    fn key(&self, token: &Secret<String>, method: Method) -> String {
        let digest = Sha256::digest(token.expose().as_bytes());
        format!(
            "{}wb:budget:{}:{}",
            self.inner.prefix,
            hex::encode(&digest[..8]),
            method.bucket()
        )
    }

    fn local_block(&self, key: &str) -> Option<Duration> {
        let mut local = lock(&self.inner.local);
        let until = *local.blocks.get(key)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        local.blocks.remove(key);
        None
    }

    fn local_take(&self, key: &str, rate: Rate) -> Duration {
        let now = Instant::now();
        let mut local = lock(&self.inner.local);
        if local.buckets.len() >= LOCAL_MAX_ENTRIES {
            // Full buckets carry no information; dropping them loses nothing.
            local
                .buckets
                .retain(|_, b| now.saturating_duration_since(b.at).as_secs() < 3600);
        }
        let bucket = local.buckets.entry(key.to_string()).or_insert(LocalBucket {
            tokens: rate.capacity,
            at: now,
        });
        if now > bucket.at {
            let elapsed_ms = (now - bucket.at).as_secs_f64() * 1000.0;
            bucket.tokens += elapsed_ms * rate.per_ms;
            bucket.at = now;
        }
        bucket.tokens = bucket.tokens.min(rate.capacity);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Duration::ZERO
        } else {
            let ms = ((1.0 - bucket.tokens) / rate.per_ms).ceil().max(1.0);
            // The bucket may start in the future (after a block); wait for that too.
            let until_start = bucket.at.saturating_duration_since(now);
            until_start + Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)
        }
    }

    fn redis_usable(&self) -> bool {
        let health = lock(&self.inner.health);
        health.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    fn redis_ok(&self) {
        let mut health = lock(&self.inner.health);
        if health.degraded {
            tracing::info!("Redis is reachable again; the WB rate budget is shared again");
        }
        *health = Health::default();
    }

    fn redis_failed(&self, error: &str) {
        let mut health = lock(&self.inner.health);
        if !health.degraded {
            tracing::warn!(
                error,
                "Redis is unreachable; the WB rate budget is per process until it is back"
            );
        }
        health.degraded = true;
        health.retry_at = Some(Instant::now() + REDIS_RETRY_AFTER);
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain numbers; the data
/// is still usable, so carry on rather than propagate the panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn jitter(wait: Duration) -> Duration {
    let max_ms = (wait.as_millis() / 10).clamp(1, 50) as u64;
    Duration::from_millis(rand::rng().random_range(0..=max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_the_limit() {
        let limit = Method::CardsList.limit();
        let rate = Rate::new(limit, 1.0).unwrap();
        assert!((rate.per_ms - 100.0 / 60_000.0).abs() < 1e-12);
        assert_eq!(rate.capacity, 5.0);
        let half = Rate::new(limit, 0.1).unwrap();
        assert_eq!(half.capacity, 1.0, "never below one request");
        assert!(Rate::new(limit, 0.0).is_none());
        assert!(Rate::new(Limit::new(Duration::ZERO, 1, 1), 1.0).is_none());
    }
}
