//! A scripted Wildberries on wiremock, for failure cases the sandbox does not produce.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const NM_ID: i64 = 111_222_333;
pub const CHRT_ID: i64 = 444_555_666;

pub fn cards(quantity_note: &str) -> Value {
    json!({
        "cards": [{
            "nmID": NM_ID, "imtID": 1, "vendorCode": format!("VC-{quantity_note}"),
            "brand": "Бренд", "title": "Платье", "subjectName": "Платья",
            "updatedAt": "2026-11-01T10:00:00.000000Z",
            "sizes": [{"chrtID": CHRT_ID, "techSize": "42", "wbSize": "42", "skus": ["2000000000017"]}]
        }],
        "cursor": {"updatedAt": "2026-11-01T10:00:00.000000Z", "nmID": NM_ID, "total": 1}
    })
}

pub fn stocks_report(quantity: i64) -> Value {
    json!({"data": {"items": [{
        "nmId": NM_ID, "chrtId": CHRT_ID, "warehouseId": -999999, "warehouseName": "Склад WB",
        "regionName": "Склад WB", "quantity": quantity, "inWayToClient": 1, "inWayFromClient": 0
    }]}})
}

/// `/ping` answers OK (so tokens can be saved).
pub async fn mount_ping(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"TS": "2026-11-21T00:00:00Z", "Status": "OK"})),
        )
        .mount(server)
        .await;
}

/// A healthy WB with one product and `quantity` on the aggregate warehouse.
pub async fn mount_healthy(server: &MockServer, quantity: i64) {
    mount_slow(server, quantity, std::time::Duration::ZERO).await;
}

/// The same, with the catalog taking `delay` to answer: a sync that is still running when
/// a test needs it to be.
pub async fn mount_slow(server: &MockServer, quantity: i64, delay: std::time::Duration) {
    mount_ping(server).await;
    Mock::given(method("POST"))
        .and(path("/content/v2/get/cards/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(cards("A"))
                .set_delay(delay),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/wb-warehouses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(stocks_report(quantity)))
        .mount(server)
        .await;
    mount_no_seller_stock(server).await;
    Mock::given(method("GET"))
        .and(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/api/v3/stocks/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"stocks": []})))
        .mount(server)
        .await;
}

/// `stocks-report/seller-warehouses` answers 204: the seller has no own warehouse stock.
pub async fn mount_no_seller_stock(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/seller-warehouses"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

/// WB's 429 answer, asking to wait `retry` seconds.
pub fn too_many(retry: u64) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("X-Ratelimit-Retry", retry.to_string().as_str())
        .insert_header("X-Ratelimit-Limit", "3")
        .insert_header("X-Ratelimit-Reset", retry.to_string().as_str())
        .insert_header("content-type", "application/problem+json")
        .set_body_string(r#"{"title":"too many requests","detail":"limited","status":429}"#)
}

/// How many catalog requests WB has received (one per sync attempt that reached WB).
pub async fn cards_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/content/v2/get/cards/list")
        .count()
}
