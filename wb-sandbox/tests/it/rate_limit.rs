//! WB-style 429s: the retry header is honest, so waiting it out succeeds.

use crate::common;

use std::time::Duration;

use common::{demo_token, json, quiet_config, start};
use serde_json::json;
use wb_sandbox::SandboxConfig;

const REPORT: &str = "/api/analytics/v1/stocks-report/wb-warehouses";

#[tokio::test]
async fn limited_then_allowed_after_retry() {
    // stocks-report allows 3 per minute with a burst of 1; at scale 20 that is one every second.
    let cfg = SandboxConfig {
        rate_limit_scale: 20.0,
        ..quiet_config()
    };
    let sb = start(cfg).await;
    let token = demo_token(51);
    let ok = sb.post(&token, REPORT, &json!({"limit": 1})).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-ratelimit-remaining"], "0");

    let limited = sb.post(&token, REPORT, &json!({"limit": 1})).await;
    assert_eq!(limited.status(), 429);
    let headers = limited.headers().clone();
    assert!(!headers.contains_key("x-ratelimit-remaining"));
    assert_eq!(headers["content-type"], "application/problem+json");
    let retry: u64 = headers["x-ratelimit-retry"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "retry {retry}");
    assert_eq!(headers["x-ratelimit-limit"], "1");
    assert!(headers.contains_key("x-ratelimit-reset"));
    let body = json(limited).await;
    assert_eq!(body["title"], "too many requests");
    assert_eq!(body["status"], 429);

    // Another token of another seller has its own budget.
    assert_eq!(
        sb.post(&demo_token(52), REPORT, &json!({"limit": 1}))
            .await
            .status(),
        200
    );

    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        sb.post(&token, REPORT, &json!({"limit": 1})).await.status(),
        200
    );
}

#[tokio::test]
async fn ping_allows_three_per_thirty_seconds() {
    let cfg = SandboxConfig {
        rate_limit_scale: 1.0,
        ..quiet_config()
    };
    let sb = start(cfg).await;
    let token = demo_token(53);
    for expected_remaining in ["2", "1", "0"] {
        let resp = sb.get(&token, "/ping").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-remaining"], expected_remaining);
    }
    let resp = sb.get(&token, "/ping").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-ratelimit-retry"], "10");

    // The limit is per host.
    let resp = sb
        .client
        .get(sb.url("/ping"))
        .header("Authorization", &token)
        .header("Host", "content-api.wildberries.ru")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn scale_zero_turns_limits_off() {
    let sb = start(quiet_config()).await;
    let token = demo_token(54);
    for _ in 0..20 {
        let resp = sb.post(&token, REPORT, &json!({"limit": 1})).await;
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    }
}
