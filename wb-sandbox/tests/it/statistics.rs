//! Orders and sales feeds paged by lastChangeDate.

use crate::common;

use std::collections::HashSet;

use common::{demo_token, json, quiet_config, start};
use serde_json::Value;
use wb_sandbox::catalog;

async fn epoch(sb: &common::Sandbox, seller: i64) -> chrono::DateTime<chrono::Utc> {
    let state: Value = sb
        .client
        .get(sb.url(&format!("/__sandbox/state?seller_id={seller}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    chrono::DateTime::parse_from_rfc3339(state["epoch"].as_str().unwrap())
        .unwrap()
        .to_utc()
}

#[tokio::test]
async fn orders_feed_pages_until_empty() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let token = demo_token(61);
    let empty = json(
        sb.get(&token, "/api/v1/supplier/orders?dateFrom=2020-01-01")
            .await,
    )
    .await;
    assert_eq!(
        empty,
        serde_json::json!([]),
        "no orders before the first tick"
    );

    sb.advance(61, 10).await;
    let expected = catalog::orders(61, &cfg, 10, epoch(&sb, 61).await);
    assert!(!expected.is_empty());

    // The feed fits one page, so a client sees it all, then an empty page.
    let first = json(
        sb.get(&token, "/api/v1/supplier/orders?dateFrom=2020-01-01")
            .await,
    )
    .await;
    assert_eq!(first, serde_json::to_value(&expected).unwrap());
    let last = first.as_array().unwrap().last().unwrap()["lastChangeDate"]
        .as_str()
        .unwrap()
        .to_string();
    let next = json(
        sb.get(&token, &format!("/api/v1/supplier/orders?dateFrom={last}"))
            .await,
    )
    .await;
    assert_eq!(next, serde_json::json!([]));

    // Resuming from the middle continues right after that row.
    let mid = &expected[expected.len() / 2];
    let rest = json(
        sb.get(
            &token,
            &format!("/api/v1/supplier/orders?dateFrom={}", mid.last_change_date),
        )
        .await,
    )
    .await;
    assert_eq!(
        rest.as_array().unwrap().len(),
        expected.len() - expected.len() / 2 - 1
    );

    // New ticks bring new orders (and cancellations) after the old cursor.
    sb.advance(61, 3).await;
    let newer = json(
        sb.get(&token, &format!("/api/v1/supplier/orders?dateFrom={last}"))
            .await,
    )
    .await;
    assert!(!newer.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn sales_reference_known_orders() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let token = demo_token(62);
    sb.advance(62, 12).await;
    let orders = json(
        sb.get(&token, "/api/v1/supplier/orders?dateFrom=2020-01-01")
            .await,
    )
    .await;
    let sales = json(
        sb.get(&token, "/api/v1/supplier/sales?dateFrom=2020-01-01")
            .await,
    )
    .await;
    let srids: HashSet<&str> = orders
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["srid"].as_str().unwrap())
        .collect();
    let sales = sales.as_array().unwrap();
    assert!(!sales.is_empty());
    for s in sales {
        assert!(srids.contains(s["srid"].as_str().unwrap()));
        let id = s["saleID"].as_str().unwrap();
        assert!(id.starts_with('S') || id.starts_with('R'), "{id}");
    }
    assert_eq!(
        serde_json::to_value(catalog::sales(62, &cfg, 12, epoch(&sb, 62).await)).unwrap(),
        Value::Array(sales.clone())
    );
}

#[tokio::test]
async fn date_from_is_required_and_validated() {
    let sb = start(quiet_config()).await;
    let token = demo_token(63);
    let resp = sb.get(&token, "/api/v1/supplier/orders").await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["errors"][0], "dateFrom: field required");
    let resp = sb.get(&token, "/api/v1/supplier/sales?dateFrom=soon").await;
    assert_eq!(resp.status(), 400);
    assert!(json(resp).await["errors"].is_string());
}
