//! Login slowdown. After a few failures for one account or one address, each further
//! attempt must wait a doubling delay (capped), answered with 429 and `Retry-After`.
//! Nothing is ever locked for good: the counters expire, and a wait always ends.
//!
//! State is in Redis so that every api replica sees the same counts. If Redis is down the
//! throttle lets attempts through (the per-address governor still applies) rather than
//! locking every user out.

use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;
use stock_tracker_shared::kv::Redis;

/// How long failures are remembered after the last one.
const WINDOW_SECS: i64 = 15 * 60;
/// One address fronts many accounts (offices, NAT), so it gets more slack than an account.
const ADDRESS_SLACK: u32 = 4;

pub struct LoginThrottle {
    redis: Redis,
    prefix: String,
    free_failures: u32,
    max_delay: Duration,
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
        }
    }

    pub fn subjects(&self, email: &str, ip: IpAddr) -> Subjects {
        let account = hex::encode(Sha256::digest(email.to_lowercase().as_bytes()));
        Subjects {
            account: format!("{}login:acct:{account}", self.prefix),
            address: format!("{}login:ip:{ip}", self.prefix),
        }
    }

    /// Seconds until an attempt may be made, if the caller must wait.
    pub async fn wait(&self, s: &Subjects) -> Option<u64> {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<(i64, i64)> = redis::pipe()
            .pttl(format!("{}:block", s.account))
            .pttl(format!("{}:block", s.address))
            .query_async(&mut conn)
            .await;
        match result {
            Ok((a, b)) => {
                let ms = a.max(b);
                (ms > 0).then(|| ms.unsigned_abs().div_ceil(1000))
            }
            Err(e) => {
                tracing::warn!(error = %e, "login throttle unavailable; not slowing down");
                None
            }
        }
    }

    pub async fn failed(&self, s: &Subjects) {
        for (key, free) in [
            (&s.account, self.free_failures),
            (&s.address, self.free_failures * ADDRESS_SLACK),
        ] {
            if let Err(e) = self.count_failure(key, free).await {
                tracing::warn!(error = %e, "login throttle unavailable; failure not counted");
            }
        }
    }

    pub async fn succeeded(&self, s: &Subjects) {
        let mut conn = self.redis.clone();
        let keys = [s.account.clone(), format!("{}:block", s.account)];
        let result: redis::RedisResult<()> =
            redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "login throttle unavailable; counter not reset");
        }
    }

    async fn count_failure(&self, key: &str, free: u32) -> redis::RedisResult<()> {
        let mut conn = self.redis.clone();
        let (failures, _): (u32, bool) = redis::pipe()
            .incr(key, 1)
            .expire(key, WINDOW_SECS)
            .query_async(&mut conn)
            .await?;
        if failures > free {
            let delay = delay_after(failures - free, self.max_delay);
            let _: () = redis::cmd("SET")
                .arg(format!("{key}:block"))
                .arg(1)
                .arg("PX")
                .arg(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
                .query_async(&mut conn)
                .await?;
        }
        Ok(())
    }
}

/// 1 s after the first failure past the free ones, then 2, 4, 8 … up to `max`.
fn delay_after(excess: u32, max: Duration) -> Duration {
    let secs = 1u64
        .checked_shl(excess.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_is_capped() {
        let max = Duration::from_secs(300);
        let delays: Vec<u64> = (1..=10).map(|n| delay_after(n, max).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(delay_after(200, max), max);
    }
}
