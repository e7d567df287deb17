//! Token buckets shaped like WB's: `burst` requests at once, then one more every
//! `period / requests`, scaled by `SandboxConfig::rate_limit_scale`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One row of a WB limit table: "Период | Лимит | Интервал | Всплеск".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub period: Duration,
    pub requests: u32,
    pub burst: u32,
}

impl Limit {
    pub const fn new(period_secs: u64, requests: u32, burst: u32) -> Self {
        Self {
            period: Duration::from_secs(period_secs),
            requests,
            burst,
        }
    }

    /// Time to earn back one request at scale 1.
    pub fn interval(&self) -> Duration {
        self.period / self.requests.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        remaining: u32,
    },
    Limited {
        /// Whole seconds until one request may pass (at least 1).
        retry_secs: u64,
        /// The burst size.
        limit: u32,
        /// Whole seconds until the bucket is full again.
        reset_secs: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// May go negative when a 4xx is charged as several requests.
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    scale: f64,
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
}

impl RateLimiter {
    pub fn new(scale: f64) -> Self {
        Self {
            scale,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.scale > 0.0
    }

    fn per_second(&self, limit: Limit) -> f64 {
        self.scale / limit.interval().as_secs_f64().max(1e-9)
    }

    fn refill(&self, bucket: &mut Bucket, limit: Limit, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * self.per_second(limit)).min(f64::from(limit.burst));
        bucket.updated = now;
    }

    /// Takes one request from the bucket of (`key`, `endpoint`), or says how long to wait.
    pub fn check(&self, key: &str, endpoint: &'static str, limit: Limit, now: Instant) -> Decision {
        if !self.enabled() {
            return Decision::Allowed {
                remaining: limit.burst,
            };
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let bucket = buckets.entry((key.to_owned(), endpoint)).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            updated: now,
        });
        self.refill(bucket, limit, now);
        // Tolerate float dust so that waiting exactly `retry_secs` is always enough.
        if bucket.tokens >= 1.0 - 1e-9 {
            bucket.tokens -= 1.0;
            Decision::Allowed {
                remaining: remaining(bucket.tokens),
            }
        } else {
            let rate = self.per_second(limit);
            Decision::Limited {
                retry_secs: ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64,
                limit: limit.burst,
                reset_secs: ((f64::from(limit.burst) - bucket.tokens) / rate)
                    .ceil()
                    .max(1.0) as u64,
            }
        }
    }

    /// Charges `extra` more requests to an already admitted request (a Marketplace 4xx
    /// counts as 10) and returns what remains.
    pub fn charge(
        &self,
        key: &str,
        endpoint: &'static str,
        limit: Limit,
        extra: u32,
        now: Instant,
    ) -> u32 {
        if !self.enabled() {
            return limit.burst;
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        match buckets.get_mut(&(key.to_owned(), endpoint)) {
            Some(bucket) => {
                self.refill(bucket, limit, now);
                bucket.tokens -= f64::from(extra);
                remaining(bucket.tokens)
            }
            None => limit.burst,
        }
    }

    /// Forgets all buckets (tests that want a clean budget).
    pub fn reset(&self) {
        self.buckets.lock().expect("rate limiter lock").clear();
    }
}

fn remaining(tokens: f64) -> u32 {
    tokens.max(0.0).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limit = Limit::new(60, 3, 1);

    #[test]
    fn burst_then_interval() {
        let rl = RateLimiter::new(1.0);
        let t0 = Instant::now();
        assert_eq!(
            rl.check("k", "e", L, t0),
            Decision::Allowed { remaining: 0 }
        );
        match rl.check("k", "e", L, t0) {
            Decision::Limited {
                retry_secs, limit, ..
            } => {
                assert_eq!(retry_secs, 20);
                assert_eq!(limit, 1);
            }
            d => panic!("{d:?}"),
        }
        assert!(matches!(
            rl.check("k", "e", L, t0 + Duration::from_secs(20)),
            Decision::Allowed { .. }
        ));
        // Other keys and endpoints have their own buckets.
        assert!(matches!(
            rl.check("other", "e", L, t0),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            rl.check("k", "f", L, t0),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn scale_and_off() {
        let fast = RateLimiter::new(20.0);
        let t0 = Instant::now();
        fast.check("k", "e", L, t0);
        assert!(matches!(
            fast.check("k", "e", L, t0),
            Decision::Limited { retry_secs: 1, .. }
        ));
        assert!(matches!(
            fast.check("k", "e", L, t0 + Duration::from_secs(1)),
            Decision::Allowed { .. }
        ));
        let off = RateLimiter::new(0.0);
        for _ in 0..100 {
            assert!(matches!(
                off.check("k", "e", L, t0),
                Decision::Allowed { .. }
            ));
        }
    }

    #[test]
    fn charge_makes_4xx_expensive() {
        let rl = RateLimiter::new(1.0);
        let l = Limit::new(60, 300, 20);
        let t0 = Instant::now();
        assert_eq!(
            rl.check("k", "e", l, t0),
            Decision::Allowed { remaining: 19 }
        );
        assert_eq!(rl.charge("k", "e", l, 9, t0), 10);
    }
}
