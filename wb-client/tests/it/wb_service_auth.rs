//! Our service's own credentials towards WB: the `X-Client-Secret` on every seller-data
//! request, the `User-Agent`, which limit row that puts a base token in, a 401 that WB
//! attributes to the secret (not the seller's token), and 402 (our balance is empty).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use stock_tracker_infra::{Secret, kv};
use stock_tracker_wb::{LimitRow, Method, WbClient, WbConfig, WbError, WbMetrics, WbSession};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CURRENT: &str = "current-secret-0123456789";
const NEXT: &str = "next-secret-9876543210";

fn token(acc: u8) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let header = part(json!({"alg": "ES256", "typ": "JWT"}));
    let payload = part(json!({
        "acc": acc, "sid": "8f6a3c7e-1d2b-4c5a-9e8f-00000000002a", "exp": 4_000_000_000i64,
        "s": (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 30),
    }));
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(b"sig-bytes")
    )
}

fn wb_client(server: &MockServer, secrets: &[&str]) -> (WbClient, Registry) {
    let mut config = WbConfig::for_base_url(&server.uri());
    config.client_secrets = secrets.iter().map(|s| Secret::new(s.to_string())).collect();
    config.user_agent = stock_tracker_wb::config::user_agent(Some("https://st.example"));
    config.max_retries = 0;
    let redis = kv::connect(
        &std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
    .unwrap();
    let mut registry = Registry::default();
    let metrics = WbMetrics::register(&mut registry);
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let client = WbClient::new(config, redis, &prefix)
        .unwrap()
        .with_metrics(metrics);
    (client, registry)
}

fn session(client: &WbClient, acc: u8) -> WbSession {
    client.session(Secret::new(token(acc)))
}

fn metrics_text(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

async fn ping_ok(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": "OK"})))
        .mount(server)
        .await;
}

/// `/api/v3/warehouses` answers `answer` to every request.
async fn warehouses_answer(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(answer)
        .mount(server)
        .await;
}

fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .insert_header("content-type", "application/problem+json")
        .set_body_json(json!({"title": "unauthorized", "detail": "access denied", "status": 401}))
}

#[tokio::test]
async fn the_secret_and_user_agent_go_on_every_seller_data_request_but_not_on_ping() {
    let server = MockServer::start().await;
    ping_ok(&server).await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let (client, _) = wb_client(&server, &[CURRENT, NEXT]);
    let wb = session(&client, 1);
    wb.ping(stock_tracker_wb::Host::Content).await.unwrap();
    wb.seller_warehouses().await.unwrap();
    let seen = server.received_requests().await.unwrap();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        let ua = r.headers.get("user-agent").unwrap().to_str().unwrap();
        assert!(
            ua.starts_with("stock-tracker/") && ua.ends_with("(+https://st.example)"),
            "{ua}"
        );
        let secret = r
            .headers
            .get("x-client-secret")
            .map(|v| v.to_str().unwrap());
        match r.url.path() {
            "/ping" => assert_eq!(secret, None, "/ping reads no seller data"),
            _ => assert_eq!(
                secret,
                Some(CURRENT),
                "the current secret, first in the list"
            ),
        }
    }
}

#[tokio::test]
async fn the_limit_row_follows_the_token_type_and_the_secret() {
    let server = MockServer::start().await;
    let (with_secret, _) = wb_client(&server, &[CURRENT]);
    let (without, _) = wb_client(&server, &[]);
    assert_eq!(
        session(&with_secret, 1).limit_row(),
        LimitRow::BaseWithSecret
    );
    assert_eq!(session(&without, 1).limit_row(), LimitRow::Base);
    assert_eq!(session(&with_secret, 3).limit_row(), LimitRow::Personal);
    assert_eq!(session(&without, 4).limit_row(), LimitRow::Service);
    // What that buys a base token: the stock report at all.
    assert!(session(&with_secret, 1).allows(Method::StocksReportWbWarehouses));
    assert!(!session(&without, 1).allows(Method::StocksReportWbWarehouses));
}

#[tokio::test]
async fn a_401_blamed_on_the_secret_moves_to_the_next_secret_once() {
    let server = MockServer::start().await;
    ping_ok(&server).await;
    Mock::given(path("/api/v3/warehouses"))
        .and(header("x-client-secret", CURRENT))
        .respond_with(unauthorized())
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/warehouses"))
        .and(header("x-client-secret", NEXT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let (client, registry) = wb_client(&server, &[CURRENT, NEXT]);
    let wb = session(&client, 1);
    wb.seller_warehouses().await.unwrap();
    // The process stays on the next secret: the next call does not try the refused one.
    session(&client, 4).seller_warehouses().await.unwrap();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v3/warehouses",
            "/ping",
            "/api/v3/warehouses",
            "/api/v3/warehouses"
        ]
    );
    let text = metrics_text(&registry);
    assert!(
        text.contains(r#"wb_client_secret_rejected_total{slot="0"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_secret_attributed_401_is_not_the_tokens_fault() {
    // /ping with the token alone passes: the secret is what WB refused.
    let server = MockServer::start().await;
    ping_ok(&server).await;
    warehouses_answer(&server, unauthorized()).await;
    let (client, registry) = wb_client(&server, &[CURRENT]);
    let err = session(&client, 1).seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::SecretRejected);
    assert!(!err.is_token_problem());
    assert!(metrics_text(&registry).contains(r#"wb_client_secret_rejected_total{slot="0"} 1"#));

    // A body naming the secret needs no /ping.
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"title": "unauthorized", "detail": "invalid client secret", "status": 401}),
        ))
        .mount(&server)
        .await;
    let (client, _) = wb_client(&server, &[CURRENT]);
    let err = session(&client, 1).seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::SecretRejected);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_401_that_ping_confirms_stays_the_tokens() {
    let server = MockServer::start().await;
    Mock::given(path("/ping"))
        .respond_with(unauthorized())
        .mount(&server)
        .await;
    warehouses_answer(&server, unauthorized()).await;
    let (client, registry) = wb_client(&server, &[CURRENT, NEXT]);
    let err = session(&client, 1).seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::Unauthorized);
    let text = metrics_text(&registry);
    for slot in ["0", "1"] {
        assert!(
            text.contains(&format!(
                r#"wb_client_secret_rejected_total{{slot="{slot}"}} 0"#
            )),
            "{text}"
        );
    }

    // Without a secret there is nothing to attribute: no /ping is spent.
    let server = MockServer::start().await;
    warehouses_answer(&server, unauthorized()).await;
    let (client, _) = wb_client(&server, &[]);
    let err = session(&client, 1).seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::Unauthorized);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_402_is_our_unpaid_balance_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/warehouses"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "title": "payment required",
            "detail": "wb solution for business has insufficient funds on its balance"
        })))
        .mount(&server)
        .await;
    let (client, registry) = wb_client(&server, &[CURRENT]);
    let err = session(&client, 4).seller_warehouses().await.unwrap_err();
    assert_eq!(err, WbError::ServiceUnpaid);
    assert_eq!(err.code(), "wb_service_unpaid");
    assert!(!err.is_token_problem());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(metrics_text(&registry).contains("wb_payment_required_total 1"));
}
