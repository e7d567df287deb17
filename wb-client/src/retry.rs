//! How long to wait before trying a WB call again.

use rand::Rng;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// When WB sends a 429 without telling us how long to wait.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Longest wait we take from a header, so a garbled value cannot park a job for days.
const MAX_HEADER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Exponential backoff with full jitter: a random wait in `[0, min(cap, base * 2^(n-1))]`
/// for retry `n` (from 1), so many clients hit by the same outage spread their retries.
pub(crate) fn backoff(base: Duration, cap: Duration, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let ceiling = base.saturating_mul(factor).min(cap);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// The wait a 429 asks for: `X-Ratelimit-Retry` (seconds until one request may pass), else
/// `X-Ratelimit-Reset` (seconds until the burst is back), else one second. WB answers 429
/// again to anything earlier, so this is a floor, never a hint.
pub(crate) fn retry_after(headers: &HeaderMap) -> Duration {
    seconds(headers, "x-ratelimit-retry")
        .or_else(|| seconds(headers, "x-ratelimit-reset"))
        .unwrap_or(DEFAULT_RETRY_AFTER)
        // "0" would have us retry at once into another 429.
        .max(DEFAULT_RETRY_AFTER)
}

fn seconds(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        value.min(MAX_HEADER_WAIT.as_secs_f64()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_stays_under_the_exponential_ceiling_and_the_cap() {
        let base = Duration::from_millis(200);
        let cap = Duration::from_secs(5);
        for _ in 0..200 {
            assert!(backoff(base, cap, 1) <= base);
            assert!(backoff(base, cap, 3) <= base * 4);
            assert!(backoff(base, cap, 30) <= cap);
            assert!(backoff(base, cap, u32::MAX) <= cap);
        }
        assert_eq!(backoff(Duration::ZERO, cap, 5), Duration::ZERO);
    }

    #[test]
    fn retry_after_prefers_retry_then_reset_then_one_second() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), Duration::from_secs(1));
        h.insert("X-Ratelimit-Reset", HeaderValue::from_static("29"));
        assert_eq!(retry_after(&h), Duration::from_secs(29));
        h.insert("X-Ratelimit-Retry", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Duration::from_secs(2));
        h.insert("X-Ratelimit-Retry", HeaderValue::from_static("0"));
        assert_eq!(retry_after(&h), Duration::from_secs(1));
        h.insert("X-Ratelimit-Retry", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), Duration::from_secs(29));
        h.insert("X-Ratelimit-Retry", HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&h), Duration::from_secs(29));
    }
}
