//! The WB client against a local mock server and a real Redis (REDIS_URL, default
//! redis://127.0.0.1:6379). Every test uses its own Redis key prefix.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use stock_tracker_infra::Secret;
use stock_tracker_infra::kv;
use stock_tracker_wb::{
    CardsCursor, Host, SellerStock, WbClient, WbConfig, WbError, WbMetrics, WbSession,
};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4())
}

/// A personal, read-only token shaped like WB's, with a recognisable signature part.
fn token() -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let header = part(json!({"alg": "ES256", "kid": "20250403v1", "typ": "JWT"}));
    let payload = part(json!({
        "acc": 3, "for": "self", "t": false, "sid": "8f6a3c7e-1d2b-4c5a-9e8f-00000000002a",
        "exp": 4_000_000_000i64, "s": (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 30),
    }));
    let signature = URL_SAFE_NO_PAD.encode(b"TOPSECRET-signature-bytes-never-print-me");
    format!("{header}.{payload}.{signature}")
}

fn client(config: WbConfig) -> WbClient {
    let redis = kv::connect(&redis_url()).unwrap();
    WbClient::new(config, redis, &prefix()).unwrap()
}

fn session_with(server: &MockServer, tweak: impl FnOnce(&mut WbConfig)) -> WbSession {
    let mut config = WbConfig::for_base_url(&server.uri());
    tweak(&mut config);
    client(config).session(Secret::new(token()))
}

fn session(server: &MockServer) -> WbSession {
    session_with(server, |_| {})
}

async fn seen(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn warehouses_json() -> Value {
    json!([{"name": "Склад", "officeId": 15, "id": 1, "cargoType": 1, "deliveryType": 1,
            "isDeleting": false, "isProcessing": false}])
}

#[tokio::test]
async fn retries_5xx_then_succeeds_with_the_raw_token_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/warehouses"))
        .and(header("Authorization", token().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(warehouses_json()))
        .mount(&server)
        .await;

    let wb = session(&server);
    let warehouses = wb.seller_warehouses().await.unwrap();
    assert_eq!(warehouses.len(), 1);
    assert_eq!(warehouses[0].office_id, Some(15));
    assert_eq!(wb.retries(), 2);
    assert_eq!(wb.requests(), 3);
    assert_eq!(wb.rate_limited(), 0);
    assert_eq!(seen(&server).await.len(), 3);
}

#[tokio::test]
async fn persistent_5xx_is_unavailable_after_max_retries_plus_one_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;

    let wb = session(&server);
    let err = wb.seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::Unavailable { status: 503 });
    assert_eq!(err.code(), "wb_unavailable");
    assert_eq!(
        seen(&server).await.len(),
        4,
        "max_retries 3 means 4 attempts"
    );
    assert_eq!(wb.retries(), 3);
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(warehouses_json())
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;

    let wb = session_with(&server, |c| {
        c.timeout = Duration::from_millis(200);
        c.max_retries = 2;
    });
    let started = Instant::now();
    let err = wb.seller_warehouses().await.unwrap_err();
    assert_eq!(err.code(), "wb_timeout");
    assert_eq!(seen(&server).await.len(), 3);
    assert_eq!(wb.retries(), 2);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "did not wait for the slow answer"
    );
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_not_retried() {
    for (status, code) in [(401, "wb_unauthorized"), (403, "wb_forbidden")] {
        let server = MockServer::start().await;
        Mock::given(path("/api/v3/warehouses"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "title": "unauthorized", "detail": "token problem", "status": status
            })))
            .mount(&server)
            .await;
        let wb = session(&server);
        let err = wb.seller_warehouses().await.unwrap_err();
        assert_eq!(err.code(), code);
        assert!(err.is_token_problem());
        assert_eq!(seen(&server).await.len(), 1, "status {status}");
        assert_eq!(wb.retries(), 0);
    }
}

#[tokio::test]
async fn other_4xx_is_rejected_without_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let wb = session(&server);
    let err = wb.seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::Rejected { status: 404 });
    assert_eq!(err.code(), "wb_rejected");
    assert_eq!(seen(&server).await.len(), 1);
}

#[tokio::test]
async fn a_429_waits_what_wb_asks_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Ratelimit-Retry", "1")
                .insert_header("X-Ratelimit-Reset", "29")
                .insert_header("X-Ratelimit-Limit", "20")
                .set_body_json(json!({"title": "too many requests", "status": 429})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(warehouses_json()))
        .mount(&server)
        .await;

    let mut registry = Registry::default();
    let metrics = WbMetrics::register(&mut registry);
    let config = WbConfig::for_base_url(&server.uri());
    let wb = client(config)
        .with_metrics(metrics)
        .session(Secret::new(token()));
    let started = Instant::now();
    wb.seller_warehouses().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(wb.rate_limited(), 1);
    assert_eq!(wb.requests(), 2);
    assert_eq!(seen(&server).await.len(), 2);

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"wb_rate_limited_total{method="seller_warehouses"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"wb_requests_total{method="seller_warehouses",outcome="2xx"} 1"#));
}

#[tokio::test]
async fn endless_429s_end_as_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(path("/ping"))
        .respond_with(ResponseTemplate::new(429).insert_header("X-Ratelimit-Retry", "60"))
        .mount(&server)
        .await;
    // A wait beyond max_retry_after is not slept through: the job is better rescheduled.
    let wb = session_with(&server, |c| c.max_retry_after = Duration::from_secs(10));
    let started = Instant::now();
    let err = wb.ping(Host::Content).await.unwrap_err();
    assert_eq!(err.code(), "wb_rate_limited");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(seen(&server).await.len(), 1);
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_after_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/content/v2/get/cards/list"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"cards": ["#))
        .mount(&server)
        .await;
    let wb = session(&server);
    let err = wb.cards_page(None, 100).await.unwrap_err();
    assert_eq!(err.code(), "wb_bad_response");
    assert!(err.to_string().contains("cards_list"), "{err}");
    assert_eq!(seen(&server).await.len(), 1);
}

#[tokio::test]
async fn a_missing_field_is_a_bad_response_naming_it_after_one_request() {
    let server = MockServer::start().await;
    let mut page = json!({"cards": [card(1), card(2)],
                          "cursor": {"updatedAt": "2026-11-01T10:00:00Z", "nmID": 2, "total": 2}});
    page["cards"][1]["sizes"][0]
        .as_object_mut()
        .unwrap()
        .remove("chrtID");
    // Fields WB added after our spec snapshot are no reason to fail.
    page["cards"][0]["documents"] = json!({"certificates": []});
    page["cards"][0]["gtin"] = json!("04601234567890");
    Mock::given(method("POST"))
        .and(path("/content/v2/get/cards/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    let wb = session(&server);
    let err = wb.cards_page(None, 100).await.unwrap_err();
    assert_eq!(err.code(), "wb_bad_response");
    assert!(
        matches!(&err, WbError::BadField { method: "cards_list", field, problem }
                 if field == "cards[1].sizes[0].chrtID" && problem == "is missing"),
        "{err:?}"
    );
    assert_eq!(seen(&server).await.len(), 1, "not retried");
}

fn card(nm_id: i64) -> Value {
    json!({
        "nmID": nm_id, "imtID": nm_id * 10, "vendorCode": format!("vc-{nm_id}"),
        "brand": "B", "title": "T", "subjectName": "S",
        "sizes": [{"chrtID": nm_id * 100, "techSize": "M", "wbSize": "48", "skus": ["200"]}],
        "updatedAt": format!("2026-08-0{nm_id}T10:00:00.123456Z"),
    })
}

fn page(nm_ids: &[i64], cursor_nm: i64, total: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "cards": nm_ids.iter().map(|n| card(*n)).collect::<Vec<_>>(),
        "cursor": {"updatedAt": format!("2026-08-0{cursor_nm}T10:00:00.123456Z"),
                   "nmID": cursor_nm, "total": total},
    }))
}

#[tokio::test]
async fn all_cards_follows_the_cursor_until_a_short_page() {
    let server = MockServer::start().await;
    for (ids, total) in [(&[1, 2][..], 2), (&[3, 4][..], 2), (&[5][..], 1)] {
        Mock::given(path("/content/v2/get/cards/list"))
            .respond_with(page(ids, ids[ids.len() - 1], total))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }

    let wb = session(&server);
    let cards = wb.all_cards(2, None).await.unwrap();
    let ids: Vec<i64> = cards.iter().map(|c| c.nm_id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(cards[0].sizes[0].chrt_id, 100);
    assert_eq!(cards[0].sizes[0].wb_size, "48");

    let bodies: Vec<Value> = seen(&server)
        .await
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(
        bodies[0],
        json!({"settings": {"sort": {"ascending": false}, "cursor": {"limit": 2},
                            "filter": {"withPhoto": -1}}})
    );
    assert_eq!(
        bodies[1]["settings"]["cursor"],
        json!({"limit": 2, "updatedAt": "2026-08-02T10:00:00.123456Z", "nmID": 2})
    );
    assert_eq!(
        bodies[2]["settings"]["cursor"],
        json!({"limit": 2, "updatedAt": "2026-08-04T10:00:00.123456Z", "nmID": 4})
    );
}

#[tokio::test]
async fn all_cards_stops_at_max_and_cards_page_sends_a_given_cursor() {
    let server = MockServer::start().await;
    Mock::given(path("/content/v2/get/cards/list"))
        .respond_with(page(&[1, 2], 2, 2))
        .mount(&server)
        .await;
    let wb = session(&server);
    let cards = wb.all_cards(2, Some(3)).await.unwrap();
    assert_eq!(cards.len(), 3);
    assert_eq!(seen(&server).await.len(), 2);

    // The same page again for a moved cursor would loop forever: it is refused.
    let err = wb.all_cards(2, None).await.unwrap_err();
    assert_eq!(err.code(), "wb_bad_response");

    let cursor = CardsCursor {
        updated_at: "2023-12-06T11:17:00.96577Z".into(),
        nm_id: 7,
        total: 100,
    };
    wb.cards_page(Some(cursor), 500).await.unwrap();
    let last: Value = seen(&server).await.last().unwrap().body_json().unwrap();
    assert_eq!(
        last["settings"]["cursor"],
        json!({"limit": 100, "updatedAt": "2023-12-06T11:17:00.96577Z", "nmID": 7}),
        "the limit is clamped to 100 and the timestamp sent back untouched"
    );
}

#[tokio::test]
async fn changed_cards_continue_ascending_from_a_saved_cursor() {
    let server = MockServer::start().await;
    for (ids, total) in [(&[3, 4][..], 2), (&[][..], 0)] {
        let cursor_nm = ids.last().copied().unwrap_or(4);
        Mock::given(path("/content/v2/get/cards/list"))
            .respond_with(page(ids, cursor_nm, total))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    let wb = session(&server);
    let since = CardsCursor {
        updated_at: "2026-08-02T10:00:00.123456Z".into(),
        nm_id: 2,
        total: 0,
    };
    let listing = wb.cards_changed_since(&since, 2).await.unwrap();
    let ids: Vec<i64> = listing.cards.iter().map(|c| c.nm_id).collect();
    assert_eq!(ids, [3, 4]);
    let resume = listing.resume.unwrap();
    assert_eq!(
        (resume.updated_at.as_str(), resume.nm_id),
        ("2026-08-04T10:00:00.123456Z", 4)
    );
    let bodies: Vec<Value> = seen(&server)
        .await
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0]["settings"],
        json!({"sort": {"ascending": true},
               "cursor": {"limit": 2, "updatedAt": "2026-08-02T10:00:00.123456Z", "nmID": 2},
               "filter": {"withPhoto": -1}}),
        "WB's documented way to get only changed cards"
    );

    // Nothing changed: one request, and the saved cursor stays.
    server.reset().await;
    Mock::given(path("/content/v2/get/cards/list"))
        .respond_with(page(&[], 2, 0))
        .mount(&server)
        .await;
    let listing = wb.cards_changed_since(&since, 100).await.unwrap();
    assert!(listing.cards.is_empty());
    assert_eq!(listing.resume.unwrap().nm_id, 2);
    assert_eq!(seen(&server).await.len(), 1);
}

#[tokio::test]
async fn the_seller_warehouse_report_is_one_request_and_204_is_no_stock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/seller-warehouses"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"items": [
                {"nmId": 1, "chrtId": 10, "warehouseId": 7, "warehouseName": "Мой склад",
                 "regionName": "Центральный", "quantity": 5}
            ]}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/analytics/v1/stocks-report/seller-warehouses"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let wb = session(&server);
    let rows = wb.all_seller_warehouse_stocks(250_000).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].warehouse_id, rows[0].quantity), (7, 5));
    let body: Value = seen(&server).await[0].body_json().unwrap();
    assert_eq!(body, json!({"limit": 250_000, "offset": 0}));
    assert!(
        wb.all_seller_warehouse_stocks(250_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        wb.requests_by_method()
            .get("stocks_report_seller_warehouses")
            .copied(),
        Some(2)
    );
}

/// Answers every chrtId asked for, so concatenation order can be checked.
struct EchoStocks;

impl Respond for EchoStocks {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let stocks: Vec<Value> = body["chrtIds"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|id| json!({"chrtId": id, "amount": id.as_i64().unwrap_or(0) % 7}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "stocks": stocks }))
    }
}

#[tokio::test]
async fn seller_stocks_splits_into_chunks_of_1000() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/stocks/77"))
        .respond_with(EchoStocks)
        .mount(&server)
        .await;
    let wb = session(&server);
    let ids: Vec<i64> = (1..=2500).collect();
    let stocks = wb.seller_stocks(77, &ids).await.unwrap();
    assert_eq!(stocks.len(), 2500);
    assert_eq!(
        stocks[1234],
        SellerStock {
            chrt_id: 1235,
            amount: 1235 % 7
        }
    );
    assert!(stocks.iter().zip(&ids).all(|(s, id)| s.chrt_id == *id));

    let sizes: Vec<usize> = seen(&server)
        .await
        .iter()
        .map(|r| {
            let body: Value = r.body_json().unwrap();
            body["chrtIds"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);

    assert!(wb.seller_stocks(77, &[]).await.unwrap().is_empty());
    assert_eq!(seen(&server).await.len(), 3, "no ids, no request");
}

#[tokio::test]
async fn wb_warehouse_stocks_pages_by_offset() {
    let server = MockServer::start().await;
    let row = |n: i64| {
        json!({"nmId": n, "chrtId": n * 10, "warehouseId": -999999, "warehouseName": "Склад WB",
               "regionName": "Склад WB", "quantity": n, "inWayToClient": 1, "inWayFromClient": 0})
    };
    for rows in [vec![row(1), row(2)], vec![row(3), row(4)], vec![row(5)]] {
        Mock::given(path("/api/analytics/v1/stocks-report/wb-warehouses"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"data": {"items": rows}})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    // WB allows 3 a minute; the budget is off here so the test does not wait 40 s.
    let wb = session_with(&server, |c| c.rate_limit_scale = 0.0);
    let rows = wb.all_wb_warehouse_stocks(2).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.nm_id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(rows[0].warehouse_id, -999999);
    let bodies: Vec<Value> = seen(&server)
        .await
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"limit": 2, "offset": 0}),
            json!({"limit": 2, "offset": 2}),
            json!({"limit": 2, "offset": 4})
        ]
    );
}

#[tokio::test]
async fn warehouse_remains_report_creates_polls_and_downloads() {
    let server = MockServer::start().await;
    let task = "219eaecf-e532-4bd8-9f15-8036ec1b042d";
    Mock::given(method("GET"))
        .and(path("/api/v1/warehouse_remains"))
        .and(query_param("groupByNm", "true"))
        .and(query_param("groupByBarcode", "true"))
        .and(query_param("groupBySize", "true"))
        .and(query_param("locale", "ru"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"taskId": task}})))
        .expect(1)
        .mount(&server)
        .await;
    let status_path = format!("/api/v1/warehouse_remains/tasks/{task}/status");
    for status in ["new", "processing"] {
        Mock::given(path(status_path.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": {"id": task, "status": status}})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(path(status_path.as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": task, "status": "done"}})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!(
        "/api/v1/warehouse_remains/tasks/{task}/download"
    )))
    .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
        "brand": "Wonderful", "subjectName": "Фотоальбомы", "vendorCode": "41058",
        "nmId": 183804172, "barcode": "2037031652319", "techSize": "0", "volume": 1.33,
        "warehouses": [
            {"warehouseName": "В пути до получателей", "quantity": 14},
            {"warehouseName": "Склад WB РФ", "quantity": 134},
            {"warehouseName": "Минск", "quantity": 123}
        ]
    }])))
    .expect(1)
    .mount(&server)
    .await;

    let wb = session(&server);
    let rows = wb.warehouse_remains_report().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].nm_id, 183804172);
    assert_eq!(rows[0].barcode, "2037031652319");
    assert_eq!(rows[0].in_way_to_client(), 14);
    assert_eq!(rows[0].stock_warehouses().count(), 2);
    assert_eq!(seen(&server).await.len(), 5, "create, 3 polls, download");
}

#[tokio::test]
async fn warehouse_remains_report_fails_on_canceled_and_on_too_many_polls() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/warehouse_remains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"taskId": "t-1"}})))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/warehouse_remains/tasks/t-1/status"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "t-1", "status": "canceled"}})),
        )
        .mount(&server)
        .await;
    let wb = session(&server);
    let err = wb.warehouse_remains_report().await.unwrap_err();
    assert_eq!(err.code(), "wb_bad_response");
    assert!(err.to_string().contains("canceled"), "{err}");

    let server = MockServer::start().await;
    Mock::given(path("/api/v1/warehouse_remains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"taskId": "t-2"}})))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/warehouse_remains/tasks/t-2/status"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "t-2", "status": "processing"}})),
        )
        .mount(&server)
        .await;
    let wb = session_with(&server, |c| {
        c.remains_max_polls = 3;
        c.rate_limit_scale = 0.0;
    });
    let err = wb.warehouse_remains_report().await.unwrap_err();
    assert_eq!(err.code(), "wb_timeout");
    assert_eq!(seen(&server).await.len(), 4, "create and 3 polls");
}

#[tokio::test]
async fn ping_checks_one_host() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"TS": "2024-08-16T11:19:05+03:00", "Status": "OK"})),
        )
        .mount(&server)
        .await;
    let wb = session(&server);
    wb.ping(Host::Content).await.unwrap();
    wb.ping(Host::Marketplace).await.unwrap();
    assert_eq!(seen(&server).await.len(), 2);
}

#[tokio::test]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let raw = token();
    let signature = raw.rsplit('.').next().unwrap().to_string();
    let payload = raw.split('.').nth(1).unwrap().to_string();
    let assert_clean = |printed: &str| {
        assert!(!printed.contains(&raw), "{printed}");
        assert!(!printed.contains(&signature), "{printed}");
        assert!(!printed.contains(&payload), "{printed}");
        assert!(!printed.contains("TOPSECRET"), "{printed}");
    };

    let server = MockServer::start().await;
    // WB's 401 bodies talk about the token; none of it may be echoed.
    for (p, response) in [
        (
            "/api/v3/warehouses",
            ResponseTemplate::new(401).set_body_string(raw.clone()),
        ),
        (
            "/ping",
            ResponseTemplate::new(403).set_body_string(raw.clone()),
        ),
        (
            "/api/v3/stocks/1",
            ResponseTemplate::new(400).set_body_string(raw.clone()),
        ),
        (
            "/content/v2/get/cards/list",
            ResponseTemplate::new(200).set_body_string(format!("{{\"x\":\"{raw}")),
        ),
        // serde quotes a value of the wrong type in its message: this one is the token.
        (
            "/api/analytics/v1/stocks-report/wb-warehouses",
            ResponseTemplate::new(200).set_body_json(json!({"data": {"items": raw}})),
        ),
    ] {
        Mock::given(path(p))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let wb = session_with(&server, |c| c.max_retries = 0);
    assert_clean(&format!("{wb:?}"));
    let errors = [
        wb.seller_warehouses().await.unwrap_err(),
        wb.ping(Host::Content).await.unwrap_err(),
        wb.seller_stocks(1, &[1]).await.unwrap_err(),
        wb.cards_page(None, 10).await.unwrap_err(),
        wb.wb_warehouse_stocks(0, 10).await.unwrap_err(),
    ];
    let codes: Vec<_> = errors.iter().map(WbError::code).collect();
    assert_eq!(
        codes,
        [
            "wb_unauthorized",
            "wb_forbidden",
            "wb_rejected",
            "wb_bad_response",
            "wb_bad_response"
        ]
    );
    assert!(
        errors[4].to_string().contains("[redacted]"),
        "{}",
        errors[4]
    );
    for e in &errors {
        assert_clean(&format!("{e:?} {e} {}", e.human()));
    }

    // Nothing listens on port 1: a transport error, with reqwest's text in it.
    let mut config = WbConfig::for_base_url("http://127.0.0.1:1");
    config.max_retries = 1;
    let wb = client(config).session(Secret::new(raw.clone()));
    let e = wb.seller_warehouses().await.unwrap_err();
    assert_eq!(e.code(), "wb_transport");
    assert_clean(&format!("{e:?} {e}"));

    // A token that cannot be a header value is refused before any request.
    let server = MockServer::start().await;
    let wb = client(WbConfig::for_base_url(&server.uri())).session(Secret::new(format!("{raw}\n")));
    let e = wb.seller_warehouses().await.unwrap_err();
    assert_eq!(e, WbError::Unauthorized);
    assert_clean(&format!("{e:?} {e} {wb:?}"));
    assert!(seen(&server).await.is_empty());
}
