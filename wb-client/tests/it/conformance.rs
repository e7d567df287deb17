//! Every request the client can make, checked against WB's own spec files.
//!
//! Each WB host is a separate mock server that records what it receives, so a request is
//! checked against the host it would really go to. [`calls`] is the one list of calls: a new
//! public call on `WbSession` goes there (the test fails until it does, see
//! `every_session_call_is_in_the_list`). A request whose operation is in no spec file fails
//! the test by name: add the operation to WB's files (a newer snapshot) or, for an operation
//! WB announced after the snapshot, to `tests/spec-additions/`.

use crate::openapi::{Request as SpecRequest, Spec};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use stock_tracker_infra::Secret;
use stock_tracker_infra::env::Env;
use stock_tracker_infra::kv;
use stock_tracker_wb::{CardsCursor, Host, WbClient, WbConfig, WbError, WbSession};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

type Run = fn(WbSession) -> BoxFuture<'static, Result<(), WbError>>;

/// One way of calling the client. `covers` names the `WbSession` methods it exercises.
struct Call {
    name: String,
    covers: &'static [&'static str],
    run: Run,
}

fn call(name: &str, covers: &'static [&'static str], run: Run) -> Call {
    Call {
        name: name.to_string(),
        covers,
        run,
    }
}

/// Every request the client can make. Add new calls here.
fn calls() -> Vec<Call> {
    let mut calls: Vec<Call> = Host::ALL
        .iter()
        .map(|&host| {
            let run: Run = match host {
                Host::Content => |wb| Box::pin(async move { wb.ping(Host::Content).await }),
                Host::Analytics => |wb| Box::pin(async move { wb.ping(Host::Analytics).await }),
                Host::Marketplace => |wb| Box::pin(async move { wb.ping(Host::Marketplace).await }),
                Host::Statistics => |wb| Box::pin(async move { wb.ping(Host::Statistics).await }),
            };
            call(&format!("ping {}", host.name()), &["ping"], run)
        })
        .collect();
    calls.extend([
        call("cards, first page", &["cards_page"], |wb| {
            Box::pin(async move { wb.cards_page(None, 100).await.map(drop) })
        }),
        call("cards, next page", &["cards_page"], |wb| {
            Box::pin(async move {
                let cursor = CardsCursor {
                    updated_at: "2026-11-01T10:00:00.123456Z".into(),
                    nm_id: 12345678,
                    total: 100,
                };
                wb.cards_page(Some(cursor), 100).await.map(drop)
            })
        }),
        call("all cards (two pages)", &["all_cards"], |wb| {
            Box::pin(async move { wb.all_cards(1, None).await.map(drop) })
        }),
        call("full listing (two pages)", &["full_listing"], |wb| {
            Box::pin(async move { wb.full_listing(1, None).await.map(drop) })
        }),
        call(
            "cards changed since a cursor",
            &["cards_changed_since"],
            |wb| {
                Box::pin(async move {
                    let since = CardsCursor {
                        updated_at: "2026-11-01T10:00:00.123456Z".into(),
                        nm_id: 12345678,
                        total: 0,
                    };
                    wb.cards_changed_since(&since, 100).await.map(drop)
                })
            },
        ),
        call(
            "seller-warehouses stock report",
            &["all_seller_warehouse_stocks"],
            |wb| Box::pin(async move { wb.all_seller_warehouse_stocks(250_000).await.map(drop) }),
        ),
        call("stock report page", &["wb_warehouse_stocks"], |wb| {
            Box::pin(async move { wb.wb_warehouse_stocks(500_000, 250_000).await.map(drop) })
        }),
        call(
            "whole stock report (two pages)",
            &["all_wb_warehouse_stocks"],
            |wb| Box::pin(async move { wb.all_wb_warehouse_stocks(1).await.map(drop) }),
        ),
        call(
            "warehouse_remains create, status, download",
            &["warehouse_remains_report"],
            |wb| Box::pin(async move { wb.warehouse_remains_report().await.map(drop) }),
        ),
        call("seller warehouses", &["seller_warehouses"], |wb| {
            Box::pin(async move { wb.seller_warehouses().await.map(drop) })
        }),
        call("seller stocks, 1001 sizes", &["seller_stocks"], |wb| {
            Box::pin(async move {
                let ids: Vec<i64> = (1..=1001).collect();
                wb.seller_stocks(7, &ids).await.map(drop)
            })
        }),
    ]);
    calls
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec_dir() -> PathBuf {
    manifest_dir().join("tests/wb-api/spec-2026-08-18")
}

fn spec() -> Spec {
    Spec::load(&[
        spec_dir().as_path(),
        // Operations WB added after the snapshot, written from its release notes.
        manifest_dir().join("tests/spec-additions").as_path(),
    ])
}

/// The copies are WB's files byte for byte, as the snapshot's own list of hashes says.
#[test]
fn the_spec_files_are_wbs_own() {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(spec_dir().join("_meta.json")).unwrap())
            .unwrap();
    let files = meta["files"].as_object().unwrap();
    assert_eq!(files.len(), 13);
    for (name, facts) in files {
        let bytes = std::fs::read(spec_dir().join(name)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            facts["sha256"].as_str().unwrap(),
            "{name} differs from WB's file"
        );
    }
}

/// Every `pub async fn` in an `impl WbSession` block of the client's sources.
fn session_calls() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(manifest_dir().join("src")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut in_session = false;
        for line in text.lines() {
            if line.starts_with("impl ") {
                in_session = line.starts_with("impl WbSession");
            } else if line.starts_with('}') {
                in_session = false;
            } else if in_session && let Some(rest) = line.trim_start().strip_prefix("pub async fn ")
            {
                names.push(rest.split(['(', '<']).next().unwrap().to_string());
            }
        }
    }
    names.sort();
    names
}

#[test]
fn every_session_call_is_in_the_list() {
    let covered: Vec<&str> = calls()
        .iter()
        .flat_map(|c| c.covers.iter().copied())
        .collect();
    let missing: Vec<_> = session_calls()
        .into_iter()
        .filter(|name| !covered.contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "WbSession calls missing from conformance::calls(): {missing:?}"
    );
    assert!(
        session_calls().contains(&"cards_page".to_string()),
        "the scan finds calls"
    );
}

/// The page of cards: one card for a first page, none after a cursor.
struct CardsPages;

impl Respond for CardsPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let cursor = &body["settings"]["cursor"];
        let cards = if cursor.get("nmID").is_some() {
            json!([])
        } else {
            json!([{"nmID": 12345678, "imtID": 1, "vendorCode": "vc", "updatedAt":
                    "2026-11-01T10:00:00.123456Z",
                    "sizes": [{"chrtID": 316399238, "techSize": "0", "skus": ["2000000000017"]}]}])
        };
        let total = cards.as_array().map_or(0, Vec::len);
        ResponseTemplate::new(200).set_body_json(json!({"cards": cards, "cursor":
            {"updatedAt": "2026-11-01T10:00:00.123456Z", "nmID": 12345678, "total": total}}))
    }
}

/// Stock report pages: one row at offset 0, none later.
struct StockPages;

impl Respond for StockPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let items = if body["offset"].as_u64() == Some(0) {
            json!([{"nmId": 1, "chrtId": 2, "warehouseId": -999999, "warehouseName": "Склад WB",
                    "regionName": "Склад WB", "quantity": 3, "inWayToClient": 0,
                    "inWayFromClient": 0}])
        } else {
            json!([])
        };
        ResponseTemplate::new(200).set_body_json(json!({"data": {"items": items}}))
    }
}

fn example(name: &str) -> Value {
    let path = manifest_dir().join("tests/wb-api/examples").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Answers for every operation the client uses, on every host (a request to the wrong host
/// still gets an answer, and the check then names the host).
async fn mount_answers(server: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let mocks = [
        Mock::given(method("GET"))
            .and(path("/ping"))
            .respond_with(ok(example("ping.200.json"))),
        Mock::given(method("POST"))
            .and(path("/content/v2/get/cards/list"))
            .respond_with(CardsPages),
        Mock::given(method("POST"))
            .and(path("/api/analytics/v1/stocks-report/wb-warehouses"))
            .respond_with(StockPages),
        Mock::given(method("POST"))
            .and(path("/api/analytics/v1/stocks-report/seller-warehouses"))
            .respond_with(StockPages),
        Mock::given(method("GET"))
            .and(path("/api/v1/warehouse_remains"))
            .respond_with(ok(example("warehouse_remains-create.200.json"))),
        Mock::given(method("GET"))
            .and(path_regex("^/api/v1/warehouse_remains/tasks/[^/]+/status$"))
            .respond_with(ok(example("warehouse_remains-status.200.json"))),
        Mock::given(method("GET"))
            .and(path_regex(
                "^/api/v1/warehouse_remains/tasks/[^/]+/download$",
            ))
            .respond_with(ok(example("warehouse_remains-download.200.json"))),
        Mock::given(method("GET"))
            .and(path("/api/v3/warehouses"))
            .respond_with(ok(example(
                "marketplace-warehouses.200.composed-from-schema-examples.json",
            ))),
        Mock::given(method("POST"))
            .and(path_regex("^/api/v3/stocks/[^/]+$"))
            .respond_with(ok(example(
                "marketplace-stocks-post.200.composed-from-schema-examples.json",
            ))),
    ];
    for mock in mocks {
        mock.mount(server).await;
    }
}

/// A personal read-only token with every category the product uses.
fn token() -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = json!({
        "acc": 3, "for": "self", "t": false, "sid": "8f6a3c7e-1d2b-4c5a-9e8f-00000000002a",
        "exp": 4_000_000_000i64, "s": (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 30),
    });
    format!(
        "{}.{}.{}",
        part(json!({"alg": "ES256", "typ": "JWT"})),
        part(payload),
        URL_SAFE_NO_PAD.encode(b"signature")
    )
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_request_the_client_makes_matches_wbs_spec() {
    let spec = spec();
    // WB's real host names, from the client's own defaults.
    let real = WbConfig::from_env(&Env::from_pairs([])).unwrap();
    let mut servers = Vec::new();
    for host in Host::ALL {
        let server = MockServer::start().await;
        mount_answers(&server).await;
        servers.push((host_of(real.url(host)), server));
    }
    let mut config = WbConfig::for_base_url(&servers[0].1.uri());
    config.content_url = servers[0].1.uri();
    config.analytics_url = servers[1].1.uri();
    config.marketplace_url = servers[2].1.uri();
    config.statistics_url = servers[3].1.uri();
    for (i, host) in Host::ALL.into_iter().enumerate() {
        assert_eq!(config.url(host), servers[i].1.uri(), "one server per host");
    }
    config.rate_limit_scale = 0.0; // WB's limits are not what this test is about
    config.max_retries = 0;
    let redis = kv::connect(
        &std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
    .unwrap();
    let client = WbClient::new(config, redis, "test:conformance:").unwrap();

    let mut seen = vec![0usize; servers.len()];
    let mut report = Vec::new();
    let mut violations = Vec::new();
    for call in calls() {
        let session = client.session(Secret::new(token()));
        if let Err(e) = (call.run)(session).await {
            violations.push(format!("{}: the call failed: {e}", call.name));
        }
        // What this call sent (the servers keep every request in order).
        let mut requests = Vec::new();
        for (i, (host, server)) in servers.iter().enumerate() {
            let all = server.received_requests().await.unwrap();
            requests.extend(all[seen[i]..].iter().map(|r| recorded(host, r)));
            seen[i] = all.len();
        }
        if requests.is_empty() {
            violations.push(format!("{}: sent no request", call.name));
        }
        for request in &requests {
            match spec.check(request) {
                Ok(op) => report.push(format!("{}: {op}", call.name)),
                Err(found) => violations.extend(found.into_iter().map(|v| {
                    format!(
                        "{} ({} {} on {}): {v}",
                        call.name, request.method, request.path, request.host
                    )
                })),
            }
        }
    }
    report.dedup();
    println!("checked:\n  {}", report.join("\n  "));
    assert!(
        violations.is_empty(),
        "requests that do not match WB's spec:\n  {}",
        violations.join("\n  ")
    );
}

fn recorded(host: &str, r: &Request) -> SpecRequest {
    SpecRequest {
        host: host.to_string(),
        method: r.method.to_string(),
        path: r.url.path().to_string(),
        query: r
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: r.body.clone(),
    }
}

/// The validator reads WB's files well enough to fail: wrong requests against the real
/// operations are caught, and the supplementary seller-warehouses operation is found.
#[test]
fn wrong_requests_fail_against_wbs_files() {
    let spec = spec();
    let request = |host: &str, verb: &str, path: &str, body: Value| SpecRequest {
        host: host.into(),
        method: verb.into(),
        path: path.into(),
        query: vec![],
        headers: vec![
            ("authorization".into(), "token".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: if body.is_null() {
            vec![]
        } else {
            body.to_string().into_bytes()
        },
    };
    let violations = |r: &SpecRequest| spec.check(r).unwrap_err().join("\n");

    let missing = violations(&request(
        "content-api.wildberries.ru",
        "GET",
        "/content/v9/nothing",
        Value::Null,
    ));
    assert!(
        missing.contains("no such operation in any spec file"),
        "{missing}"
    );
    let wrong_host = violations(&request(
        "seller-analytics-api.wildberries.ru",
        "GET",
        "/api/v3/warehouses",
        Value::Null,
    ));
    assert!(wrong_host.contains("not served by"), "{wrong_host}");

    let cards = violations(&request(
        "content-api.wildberries.ru",
        "POST",
        "/content/v2/get/cards/list",
        json!({"settings": {"cursor": {"limit": "100", "nmId": 1},
                            "filter": {"withPhoto": 3}}}),
    ));
    for expected in [
        "body.settings.cursor.limit: \"100\" is not of type integer",
        "body.settings.cursor.nmId: not in the schema",
        "body.settings.filter.withPhoto: 3 is not one of [-1,0,1,2]",
    ] {
        assert!(cards.contains(expected), "{expected} in {cards}");
    }
    let ids: Vec<i64> = (1..=1001).collect();
    let stocks = violations(&request(
        "marketplace-api.wildberries.ru",
        "POST",
        "/api/v3/stocks/warehouse-7",
        json!({"chrtIds": ids}),
    ));
    assert!(stocks.contains("more than maxItems 1000"), "{stocks}");
    assert!(
        stocks.contains("`warehouse-7` is not a integer"),
        "{stocks}"
    );
    let remains = spec.check(&SpecRequest {
        query: vec![("groupByNm".into(), "yes".into())],
        ..request(
            "seller-analytics-api.wildberries.ru",
            "GET",
            "/api/v1/warehouse_remains",
            Value::Null,
        )
    });
    assert!(
        remains.unwrap_err()[0].contains("`yes` is not a boolean"),
        "query parameters are typed"
    );

    // Not in WB's snapshot: found in tests/spec-additions.
    let seller = "/api/analytics/v1/stocks-report/seller-warehouses";
    let host = "seller-analytics-api.wildberries.ru";
    let good = spec.check(&request(
        host,
        "POST",
        seller,
        json!({"nmIds": [1], "chrtIds": [2], "limit": 250_000, "offset": 0}),
    ));
    assert_eq!(
        good,
        Ok(format!("seller-warehouses.yaml: POST {seller}")),
        "the supplementary operation is found"
    );
    let bad = violations(&request(host, "POST", seller, json!({"limit": 250_001})));
    assert!(bad.contains("above the maximum 250000"), "{bad}");
}
