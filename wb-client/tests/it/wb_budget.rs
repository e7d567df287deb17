//! The shared WB rate budget against a real Redis (REDIS_URL, default redis://127.0.0.1:6379).
//! Two `Budget` values built from separate connections stand in for two processes.

use std::time::{Duration, Instant};
use stock_tracker_infra::Secret;
use stock_tracker_infra::kv;
use stock_tracker_wb::{Budget, Method};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4())
}

fn budget(prefix: &str) -> Budget {
    Budget::new(kv::connect(&redis_url()).unwrap(), prefix, 1.0)
}

fn token() -> Secret<String> {
    Secret::new(format!("token-{}", uuid::Uuid::new_v4()))
}

/// Both "processes" ask for `attempts` requests each, interleaved and at once; returns the
/// total granted.
async fn grants(
    a: &Budget,
    b: &Budget,
    token: &Secret<String>,
    method: Method,
    attempts: usize,
) -> usize {
    let run = |budget: Budget| {
        let token = token.clone();
        tokio::spawn(async move {
            let mut granted = 0;
            for _ in 0..attempts {
                if budget.try_acquire(&token, method).await.is_zero() {
                    granted += 1;
                }
            }
            granted
        })
    };
    let (x, y) = tokio::join!(run(a.clone()), run(b.clone()));
    x.unwrap() + y.unwrap()
}

#[tokio::test]
async fn two_processes_share_one_budget() {
    // warehouse_remains create: burst 5, then 1 a minute, so a short burst of asks from two
    // processes must get exactly 5 grants between them.
    let method = Method::WarehouseRemainsCreate;
    let shared = prefix();
    let token = token();
    let started = Instant::now();
    let granted = grants(&budget(&shared), &budget(&shared), &token, method, 10).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(granted, 5);

    // The control: separate budgets (separate prefixes) would have granted twice as much,
    // so the assertion above really measures the sharing.
    let separate = grants(&budget(&prefix()), &budget(&prefix()), &token, method, 10).await;
    assert_eq!(separate, 10);

    // The denied ask is told to wait about one refill interval (60 s), not to spin.
    let wait = budget(&shared).try_acquire(&token, method).await;
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(61),
        "{wait:?}"
    );

    // Another token has its own budget.
    assert!(
        budget(&shared)
            .try_acquire(&self::token(), method)
            .await
            .is_zero()
    );
}

#[tokio::test]
async fn acquire_waits_for_the_refill() {
    // Status polls: burst 5, then one per 5 s.
    let method = Method::WarehouseRemainsStatus;
    let b = budget(&prefix());
    let token = token();
    for _ in 0..5 {
        assert_eq!(b.acquire(&token, method).await, Duration::ZERO);
    }
    let wait = b.try_acquire(&token, method).await;
    assert!(
        wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
        "{wait:?}"
    );
}

#[tokio::test]
async fn block_until_makes_every_process_wait() {
    let method = Method::CardsList;
    let shared = prefix();
    let (a, b) = (budget(&shared), budget(&shared));
    let token = token();
    assert!(b.try_acquire(&token, method).await.is_zero());

    a.block_until(&token, method, Duration::from_millis(1200))
        .await;
    let wait = b.try_acquire(&token, method).await;
    assert!(wait > Duration::from_millis(1000), "{wait:?}");

    let started = Instant::now();
    let waited = b.acquire(&token, method).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1000), "{elapsed:?}");
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // WB lets one request through at the end of the wait, then refills at its pace.
    let next = a.try_acquire(&token, method).await;
    assert!(
        next > Duration::ZERO,
        "the bucket restarted with one request, not a burst"
    );

    // A shorter block never shortens a longer one.
    a.block_until(&token, method, Duration::from_secs(3)).await;
    a.block_until(&token, method, Duration::from_millis(10))
        .await;
    assert!(b.try_acquire(&token, method).await > Duration::from_secs(2));
}

#[tokio::test]
async fn without_redis_the_budget_is_per_process() {
    // Nothing listens on port 1.
    let b = Budget::new(kv::connect("redis://127.0.0.1:1").unwrap(), &prefix(), 1.0);
    let token = token();
    let method = Method::WarehouseRemainsCreate;
    let started = Instant::now();
    for _ in 0..5 {
        assert!(b.try_acquire(&token, method).await.is_zero());
    }
    assert!(b.try_acquire(&token, method).await > Duration::from_secs(50));
    b.block_until(&token, Method::CardsList, Duration::from_millis(500))
        .await;
    assert!(b.try_acquire(&token, Method::CardsList).await > Duration::from_millis(300));
    // Redis is tried once, then left alone for a while: asks stay fast.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn scale_zero_turns_the_budget_off() {
    let b = Budget::new(kv::connect(&redis_url()).unwrap(), &prefix(), 0.0);
    let token = token();
    b.block_until(&token, Method::SupplierSales, Duration::from_secs(60))
        .await;
    for _ in 0..20 {
        assert!(b.try_acquire(&token, Method::SupplierSales).await.is_zero());
    }
    assert!(!b.enabled());
}

#[tokio::test]
async fn redis_keys_carry_a_hash_not_the_token() {
    let shared = prefix();
    let b = budget(&shared);
    let token = Secret::new("very-secret-token-value".to_string());
    assert!(b.try_acquire(&token, Method::SellerStocks).await.is_zero());
    let mut conn = kv::connect(&redis_url()).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{shared}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert!(!key.contains("very-secret"), "{key}");
    let rest = key.strip_prefix(&format!("{shared}wb:budget:")).unwrap();
    let (hash, bucket) = rest.split_once(':').unwrap();
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(bucket, "marketplace_v3");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "buckets expire");
}
