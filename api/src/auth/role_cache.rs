//! Members' roles cached in Redis, so an authenticated read costs no PostgreSQL round trip
//! when its answer is cached too. With Redis down every request asks PostgreSQL.
//!
//! # Staleness: versions and tombstones (issue 11, item 5)
//!
//! Every membership row carries a version (migration `…000510_membership_versions`): drawn
//! from one PostgreSQL sequence on every insert and update, so a version taken later is
//! larger. An entry is `version|role|expires|mac`, and every write goes through one Lua
//! script that stores it only if the entry already there has no newer version ([`STORE`]).
//!
//! - A request that misses reads role and version in one statement ([`read`]), noting the
//!   time *before* the read; the entry it writes expires [`TTL`] after that time, whenever
//!   the write happens (a write whose entry would already have expired is not made).
//! - Removing a member deletes the row and, in the same statement, takes a new version from
//!   the sequence (necessarily newer than the version of any row a read saw before the
//!   delete committed). After the commit it writes a tombstone with that version
//!   ([`RoleCache::forget`]), living [`TOMBSTONE_TTL`] (twice [`TTL`]).
//!
//! So a read that saw the member before the removal committed, and writes after it:
//! before the tombstone, its entry is replaced by the tombstone; while the tombstone lives,
//! the script refuses it (older version); after the tombstone is gone, more than [`TTL`]
//! has passed since the read (the tombstone was written after the read and lives 2×TTL), so
//! its entry has expired and is not written. A read after the commit finds no membership
//! and writes nothing. No interleaving leaves the old role cached. What remains: if the
//! tombstone cannot be written (Redis unreachable just then) while the stale write gets
//! through, the old role lives at most [`TTL`] from its read. Any future path that changes
//! a role must write a tombstone the same way.
//!
//! # Integrity (issue 11, item 7)
//!
//! The cache is never the sole authority for a privilege: each entry carries an HMAC-SHA256
//! over (tenant, user, version, role, expiry) under a key derived from `JWT_SECRET` (the
//! key never leaves this struct). An entry that does not verify, has expired or does not
//! parse is ignored and the role is read from PostgreSQL, so someone who can write to Redis
//! cannot grant a role, move an entry to another member or tenant, or extend it. (They can
//! replay an entry of the same member within its minute, as a stale cache would.)

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use std::time::Duration;
use stock_tracker_shared::accounts::Role;
use stock_tracker_shared::accounts::memberships::{self, VersionedRole};
use stock_tracker_shared::cache::{Invalidation, invalidations_channel};
use stock_tracker_shared::ids::{TenantId, UserId};
use stock_tracker_shared::kv::Redis;
use stock_tracker_shared::tenancy::{self, Scope};

/// How long a cached role is trusted after it was read.
pub const TTL: Duration = Duration::from_secs(60);
/// How long a removal's tombstone holds off older writes (see the module documentation).
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(2 * TTL.as_secs());
/// The role field of a tombstone.
const GONE: &str = "-";

/// Stores `ARGV[2]` for `ARGV[3]` ms unless the stored entry's version (its leading digits)
/// is newer than `ARGV[1]`. Versions are compared as decimal strings (length, then digits),
/// so they stay exact beyond Lua's 2^53. An entry that does not parse never blocks a write.
const STORE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = string.match(cur, '^(%d+)|')
  if v and (#v > #ARGV[1] or (#v == #ARGV[1] and v > ARGV[1])) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// A role as read from PostgreSQL, with when the read started: what [`RoleCache::put`]
/// stores.
#[derive(Clone, Copy, Debug)]
pub struct RoleRead {
    pub role: VersionedRole,
    pub read_at: DateTime<Utc>,
}

/// The member's role in `tenant` from PostgreSQL (`None` if they are not a member), with
/// its version and the time the read started.
pub async fn read(
    db: &sqlx::PgPool,
    tenant: TenantId,
    user: UserId,
) -> sqlx::Result<Option<RoleRead>> {
    let read_at = Utc::now();
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let role = memberships::versioned_role_of(&mut tx, user).await?;
    tenancy::end_read(tx);
    Ok(role.map(|role| RoleRead { role, read_at }))
}

pub struct RoleCache {
    redis: Redis,
    prefix: String,
    entries: Entries,
    store: redis::Script,
}

/// Signs and checks entries.
struct Entries {
    key: hmac::Key,
}

impl Entries {
    /// A key derived from `secret` for this purpose only.
    fn new(secret: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            b"stock-tracker/role-cache/v1",
        );
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    fn signed(&self, tenant: TenantId, user: UserId, body: &str) -> String {
        hex::encode(hmac::sign(
            &self.key,
            format!("{tenant}|{user}|{body}").as_bytes(),
        ))
    }

    /// `version|role|expires_ms|mac`.
    fn encode(&self, tenant: TenantId, user: UserId, version: i64, role: &str, exp: i64) -> String {
        let body = format!("{version}|{role}|{exp}");
        let mac = self.signed(tenant, user, &body);
        format!("{body}|{mac}")
    }

    /// The role an entry states and the time it has left, if it is a signed, unexpired
    /// role entry for this member.
    fn decode(
        &self,
        tenant: TenantId,
        user: UserId,
        entry: &str,
        now: DateTime<Utc>,
    ) -> Option<(Role, Duration)> {
        let (body, mac) = entry.rsplit_once('|')?;
        let mac = hex::decode(mac).ok()?;
        hmac::verify(
            &self.key,
            format!("{tenant}|{user}|{body}").as_bytes(),
            &mac,
        )
        .ok()?;
        let mut fields = body.split('|');
        let (_version, role, exp) = (fields.next()?, fields.next()?, fields.next()?);
        let left = exp.parse::<i64>().ok()? - now.timestamp_millis();
        if left <= 0 {
            return None;
        }
        Some((
            role.parse().ok()?,
            Duration::from_millis(left.unsigned_abs()),
        ))
    }
}

impl RoleCache {
    /// `secret` is the api's JWT secret; entries are signed with a key derived from it.
    pub fn new(redis: Redis, prefix: &str, secret: &[u8]) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            entries: Entries::new(secret),
            store: redis::Script::new(STORE),
        }
    }

    fn entry_key(&self, tenant: TenantId, user: UserId) -> String {
        format!("{}role:{tenant}:{user}", self.prefix)
    }

    /// The cached role and the time its entry has left; `None` (read PostgreSQL) when there
    /// is none, it is a tombstone, it fails verification or Redis is unavailable.
    pub async fn get(&self, tenant: TenantId, user: UserId) -> Option<(Role, Duration)> {
        let mut conn = self.redis.clone();
        let cached: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(self.entry_key(tenant, user))
            .query_async(&mut conn)
            .await;
        let entry = cached.ok().flatten()?;
        let role = self.entries.decode(tenant, user, &entry, Utc::now());
        if role.is_none() && entry.split('|').nth(1) != Some(GONE) {
            tracing::warn!(%tenant, %user, "role cache entry failed verification; ignored");
        }
        role
    }

    /// Caches a role read from PostgreSQL, unless a newer version (a removal's tombstone)
    /// is there, or the entry would already have expired.
    pub async fn put(&self, tenant: TenantId, user: UserId, read: RoleRead) {
        let exp = read.read_at + chrono::Duration::from_std(TTL).unwrap_or_default();
        let left = (exp - Utc::now()).num_milliseconds();
        if left <= 0 {
            return;
        }
        let entry = self.entries.encode(
            tenant,
            user,
            read.role.version,
            read.role.role.as_str(),
            exp.timestamp_millis(),
        );
        self.write(tenant, user, read.role.version, &entry, left)
            .await;
    }

    /// After a removal has committed: a tombstone with the removal's `version`, so no role
    /// read before it can be cached again, and a message that drops the role from every api
    /// process's own layer.
    pub async fn forget(&self, tenant: TenantId, user: UserId, version: i64) {
        let ttl = i64::try_from(TOMBSTONE_TTL.as_millis()).unwrap_or(i64::MAX);
        let exp = Utc::now().timestamp_millis().saturating_add(ttl);
        let entry = self.entries.encode(tenant, user, version, GONE, exp);
        if !self.write(tenant, user, version, &entry, ttl).await {
            tracing::warn!(%tenant, %user, "role cache tombstone not written; a stale entry expires within a minute");
        }
        let mut conn = self.redis.clone();
        let published: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(invalidations_channel(&self.prefix))
            .arg(Invalidation::Role(tenant, user).message())
            .query_async(&mut conn)
            .await;
        if let Err(e) = published {
            // Api processes whose subscription is live got nothing; theirs expires with
            // the Redis entry it came from (at most a minute), as a stale Redis entry would.
            tracing::warn!(error = %e, %tenant, %user, "role removal not published");
        }
    }

    /// Runs [`STORE`]; false if Redis failed.
    async fn write(
        &self,
        tenant: TenantId,
        user: UserId,
        version: i64,
        entry: &str,
        ms: i64,
    ) -> bool {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = self
            .store
            .key(self.entry_key(tenant, user))
            .arg(version.to_string())
            .arg(entry)
            .arg(ms)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "role cache write failed");
        }
        result.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signed_unexpired_entries_of_the_same_member_verify() {
        let c = Entries::new(b"a secret for the role cache tests");
        let (t, u, other) = (TenantId::new(), UserId::new(), UserId::new());
        let now = Utc::now();
        let exp = now.timestamp_millis() + 1_000;
        let entry = c.encode(t, u, 7, "admin", exp);
        assert_eq!(
            c.decode(t, u, &entry, now),
            Some((Role::Admin, Duration::from_secs(1)))
        );
        // Another member, another tenant, a changed role or version, an expired entry.
        assert_eq!(c.decode(t, other, &entry, now), None);
        assert_eq!(c.decode(TenantId::new(), u, &entry, now), None);
        assert_eq!(c.decode(t, u, &entry.replace("admin", "owner"), now), None);
        assert_eq!(c.decode(t, u, &entry.replacen('7', "8", 1), now), None);
        let later = now + chrono::Duration::seconds(2);
        assert_eq!(c.decode(t, u, &entry, later), None);
        // Unsigned, foreign-keyed and tombstone entries.
        assert_eq!(c.decode(t, u, "owner", now), None);
        assert_eq!(c.decode(t, u, &format!("7|owner|{exp}|00"), now), None);
        let other_key = Entries::new(b"another secret for the role cache");
        assert_eq!(
            c.decode(t, u, &other_key.encode(t, u, 7, "owner", exp), now),
            None
        );
        assert_eq!(c.decode(t, u, &c.encode(t, u, 9, GONE, exp), now), None);
    }
}
