//! Per-tenant read cache in Redis.
//!
//! Entries are keyed by the tenant's cache version, so dropping a tenant's whole cache when
//! a sync completes is one `INCR` (old entries simply age out). A lookup is one round trip
//! (a Lua script reads the version and the entry together). Any Redis failure is a miss:
//! reads then come from PostgreSQL.
//!
//! Invalidations are also published (see [`Invalidation`]), for the api processes' own
//! in-process layer in front of this one.

use crate::ids::{TenantId, UserId};
use crate::kv::Redis;
use std::time::Duration;

const LOOKUP: &str = r"
local ver = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. ver .. ':' .. ARGV[2]
local val = redis.call('GET', key)
if val then return {ver, val, redis.call('PTTL', key)} end
return {ver, '', -2}
";

/// Stores an entry unless the tenant's cache version already holds `max` of them: every
/// distinct question is an entry, so without a bound one tenant could fill Redis and evict
/// other tenants' caches, rate budgets and login counters.
const STORE: &str = r"
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if n > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Bumps the tenant's cache version and tells every api process, in one round trip.
const INVALIDATE: &str = r"
redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
";

/// The channel invalidations are published on, under the deployment's key prefix.
pub fn invalidations_channel(prefix: &str) -> String {
    format!("{prefix}invalidations")
}

/// What an invalidation message says changed: all cached reads of a tenant (a sync
/// completed), or one member's role (a removal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalidation {
    Cache(TenantId),
    Role(TenantId, UserId),
}

impl Invalidation {
    pub fn message(&self) -> String {
        match self {
            Self::Cache(t) => format!("cache {t}"),
            Self::Role(t, u) => format!("role {t} {u}"),
        }
    }

    /// `None` for a message this version does not know.
    pub fn parse(message: &str) -> Option<Self> {
        let mut words = message.split(' ');
        let what = words.next()?;
        let tenant = TenantId(words.next()?.parse().ok()?);
        let found = match what {
            "cache" => Self::Cache(tenant),
            "role" => Self::Role(tenant, UserId(words.next()?.parse().ok()?)),
            _ => return None,
        };
        words.next().is_none().then_some(found)
    }

    pub fn tenant(&self) -> TenantId {
        match self {
            Self::Cache(t) | Self::Role(t, _) => *t,
        }
    }
}

/// Entries one tenant may have per cache version unless configured otherwise.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000;

#[derive(Clone)]
pub struct TenantCache {
    redis: Redis,
    prefix: String,
    ttl: Duration,
    max_entries: u64,
    lookup: redis::Script,
    store: redis::Script,
    invalidate: redis::Script,
}

/// Where a computed answer goes: its key and the tenant's entry count for that version.
#[derive(Clone, Debug)]
pub struct StoreKey {
    entry: String,
    count: String,
}

pub enum Lookup {
    Hit {
        value: Vec<u8>,
        ttl_left: Duration,
    },
    /// Not cached; `store_key` is where to put it (absent when Redis is unavailable).
    Miss {
        store_key: Option<StoreKey>,
    },
}

impl TenantCache {
    pub fn new(redis: Redis, prefix: &str, ttl: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            ttl,
            max_entries: DEFAULT_MAX_ENTRIES,
            lookup: redis::Script::new(LOOKUP),
            store: redis::Script::new(STORE),
            invalidate: redis::Script::new(INVALIDATE),
        }
    }

    /// At most `max` entries per tenant and cache version; further answers are served
    /// uncached until the next sync starts a new version.
    pub fn with_max_entries(mut self, max: u64) -> Self {
        self.max_entries = max;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn version_key(&self, tenant: TenantId) -> String {
        format!("{}cache:{}:ver", self.prefix, tenant)
    }

    pub async fn get(&self, tenant: TenantId, name: &str) -> Lookup {
        // A TTL of zero turns caching off (CACHE_TTL_SECS=0).
        if self.ttl.is_zero() {
            return Lookup::Miss { store_key: None };
        }
        let mut conn = self.redis.clone();
        let base = format!("{}cache:{}:v", self.prefix, tenant);
        let result: redis::RedisResult<(String, Vec<u8>, i64)> = self
            .lookup
            .key(self.version_key(tenant))
            .arg(&base)
            .arg(name)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok((_, value, pttl)) if pttl > 0 => Lookup::Hit {
                value,
                ttl_left: Duration::from_millis(pttl.unsigned_abs()),
            },
            Ok((ver, _, _)) => Lookup::Miss {
                store_key: Some(StoreKey {
                    entry: format!("{base}{ver}:{name}"),
                    count: format!("{base}{ver}#entries"),
                }),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cache unavailable; reading from PostgreSQL");
                Lookup::Miss { store_key: None }
            }
        }
    }

    /// Stores an answer, unless the tenant's entries for this version are at the bound.
    pub async fn put(&self, key: &StoreKey, value: &[u8]) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = self
            .store
            .key(&key.entry)
            .key(&key.count)
            .arg(value)
            .arg(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(self.max_entries)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(0) => tracing::debug!("tenant's cache is full for this sync; answer not stored"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cache write failed"),
        }
    }

    /// Drops every cached read of the tenant (after a sync, or a change of credentials),
    /// here and in every api process's own layer.
    pub async fn invalidate(&self, tenant: TenantId) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = self
            .invalidate
            .key(self.version_key(tenant))
            .arg(invalidations_channel(&self.prefix))
            .arg(Invalidation::Cache(tenant).message())
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = result {
            // Entries then live out their TTL; reads are at most that stale.
            tracing::warn!(error = %e, %tenant, "cache invalidation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_messages_read_back_and_unknown_ones_are_none() {
        let (t, u) = (TenantId::new(), UserId::new());
        for inv in [Invalidation::Cache(t), Invalidation::Role(t, u)] {
            assert_eq!(Invalidation::parse(&inv.message()), Some(inv));
        }
        for bad in [
            "",
            "cache",
            "cache nope",
            &format!("purge {t}"),
            &format!("role {t}"),
            &format!("cache {t} extra"),
        ] {
            assert_eq!(Invalidation::parse(bad), None, "{bad}");
        }
    }
}
