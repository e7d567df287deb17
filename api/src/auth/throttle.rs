//! Login slowdown. After a few failures for one account or one network, each further attempt
//! must wait a doubling delay (capped), answered with 429 and `Retry-After`. Nothing is ever
//! locked for good: the counters expire, and a wait always ends.
//!
//! An attempt is reserved before its password is verified, in one Redis script that checks
//! the waits and counts the attempt as a failure together, so parallel guesses cannot all slip
//! past a check that was read before any of them was counted. A correct password refunds the
//! attempt. The account's owner is not held up by someone else's guessing: a login carrying a
//! valid device token is counted for that device, not for the whole account (`device.rs`).
//!
//! Addresses are counted per network: an IPv6 client is its /64 (one subscriber's whole
//! allocation), see `client_ip::limit_key`.
//!
//! State is in Redis so that every api replica sees the same counts. If Redis is down the
//! throttle lets attempts through (the per-address governor still applies) rather than
//! locking every user out.

use crate::http::client_ip::limit_key;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;
use stock_tracker_shared::kv::Redis;
use uuid::Uuid;

/// How long failures are remembered after the last one.
const WINDOW_SECS: u64 = 15 * 60;
/// One address fronts many accounts (offices, NAT), so it gets more slack than an account.
const ADDRESS_SLACK: u32 = 4;

/// KEYS: account counter, account block, address counter, address block.
/// ARGV: free failures for the account, for the address, window seconds, max delay ms.
/// Returns the milliseconds to wait (nothing counted), or 0 with the attempt counted.
const RESERVE: &str = r"
local wait = math.max(redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[4]))
if wait > 0 then return wait end
for i = 0, 1 do
  local counter, block = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local n = redis.call('INCR', counter)
  redis.call('EXPIRE', counter, ARGV[3])
  local excess = n - tonumber(ARGV[i + 1])
  if excess > 0 then
    local delay = math.min(1000 * 2 ^ math.min(excess - 1, 40), tonumber(ARGV[4]))
    redis.call('SET', block, 1, 'PX', math.floor(delay))
  end
end
return 0
";

/// KEYS: account counter, account block, address counter. The attempt was not a failure:
/// the account starts afresh, and the address gets its reserved attempt back.
const REFUND: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
return 0
";

pub struct LoginThrottle {
    redis: Redis,
    prefix: String,
    free_failures: u32,
    max_delay: Duration,
    reserve: redis::Script,
    refund: redis::Script,
}

/// The counters one login attempt touches.
pub struct Subjects {
    account: String,
    address: String,
}

impl LoginThrottle {
    pub fn new(redis: Redis, prefix: &str, free_failures: u32, max_delay: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
            free_failures,
            max_delay,
            reserve: redis::Script::new(RESERVE),
            refund: redis::Script::new(REFUND),
        }
    }

    /// The account's counter (the device's, when the login presents a valid device token)
    /// and the network's.
    pub fn subjects(&self, email: &str, ip: IpAddr, device: Option<Uuid>) -> Subjects {
        let account = hex::encode(Sha256::digest(email.to_lowercase().as_bytes()));
        let account = match device {
            Some(device) => format!(
                "{}login:acct:{account}:dev:{}",
                self.prefix,
                device.simple()
            ),
            None => format!("{}login:acct:{account}", self.prefix),
        };
        Subjects {
            account,
            address: format!("{}login:ip:{}", self.prefix, limit_key(ip)),
        }
    }

    /// Counts this attempt as a failure before it is verified; `Some(seconds)` if it must
    /// wait instead (then nothing is counted).
    pub async fn reserve(&self, s: &Subjects) -> Option<u64> {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = self
            .reserve
            .key(&s.account)
            .key(format!("{}:block", s.account))
            .key(&s.address)
            .key(format!("{}:block", s.address))
            .arg(self.free_failures)
            .arg(self.free_failures.saturating_mul(ADDRESS_SLACK))
            .arg(WINDOW_SECS)
            .arg(u64::try_from(self.max_delay.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(ms) => (ms > 0).then(|| ms.unsigned_abs().div_ceil(1000)),
            Err(e) => {
                tracing::warn!(error = %e, "login throttle unavailable; not slowing down");
                None
            }
        }
    }

    /// The reserved attempt succeeded.
    pub async fn succeeded(&self, s: &Subjects) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = self
            .refund
            .key(&s.account)
            .key(format!("{}:block", s.account))
            .key(&s.address)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "login throttle unavailable; counter not reset");
        }
    }
}
