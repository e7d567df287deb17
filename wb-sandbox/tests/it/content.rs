//! Cards list paging and the auth rules every endpoint shares.

use crate::common;

use std::collections::HashSet;

use chrono::{Duration, Utc};
use common::{demo_token, json, quiet_config, start};
use serde_json::{Value, json};
use wb_sandbox::{Category, TokenOptions, TokenType, catalog, mint_token};

const CARDS: &str = "/content/v2/get/cards/list";

async fn page_through(sb: &common::Sandbox, token: &str, limit: u64, ascending: bool) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = json!({"limit": limit});
    for _ in 0..1000 {
        let body = json!({"settings": {
            "sort": {"ascending": ascending},
            "cursor": cursor,
            "filter": {"withPhoto": -1},
        }});
        let resp = sb.post(token, CARDS, &body).await;
        assert_eq!(resp.status(), 200);
        let page = json(resp).await;
        let cards = page["cards"].as_array().unwrap();
        seen.extend(cards.iter().map(|c| c["nmID"].as_i64().unwrap()));
        let total = page["cursor"]["total"].as_u64().unwrap();
        assert_eq!(total as usize, cards.len());
        if total < limit {
            return seen;
        }
        cursor = json!({
            "limit": limit,
            "updatedAt": page["cursor"]["updatedAt"],
            "nmID": page["cursor"]["nmID"],
        });
    }
    panic!("paging did not terminate");
}

#[tokio::test]
async fn cards_paging_visits_every_card_exactly_once() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let token = demo_token(21);
    let expected: HashSet<i64> = catalog::products(21, &cfg)
        .iter()
        .map(|p| p.nm_id)
        .collect();
    // 7 does not divide 50, and about three cards share each updatedAt, so pages split ties.
    for (limit, ascending) in [(7, true), (7, false), (100, true), (1, false), (10, true)] {
        let seen = page_through(&sb, &token, limit, ascending).await;
        assert_eq!(seen.len(), expected.len(), "limit {limit} asc {ascending}");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), expected);
    }
}

#[tokio::test]
async fn card_fields_match_the_catalog() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let resp = sb
        .post(
            &demo_token(4),
            CARDS,
            &json!({"settings": {"cursor": {"limit": 100}}}),
        )
        .await;
    let page = json(resp).await;
    let products = catalog::products(4, &cfg);
    let cards = page["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 50);
    for card in cards {
        let nm = card["nmID"].as_i64().unwrap();
        let p = products.iter().find(|p| p.nm_id == nm).unwrap();
        assert_eq!(card["imtID"], p.imt_id);
        assert_eq!(card["vendorCode"], p.vendor_code.as_str());
        assert_eq!(card["brand"], p.brand);
        assert_eq!(card["title"], p.title.as_str());
        assert_eq!(card["subjectName"], p.subject_name);
        let sizes = card["sizes"].as_array().unwrap();
        assert_eq!(sizes.len(), p.sizes.len());
        for (s, size) in sizes.iter().zip(&p.sizes) {
            assert_eq!(s["chrtID"], size.chrt_id);
            assert_eq!(s["techSize"], size.tech_size.as_str());
            assert_eq!(s["skus"], json!(size.skus));
        }
        for field in [
            "nmUUID",
            "subjectID",
            "description",
            "createdAt",
            "updatedAt",
            "photos",
            "dimensions",
        ] {
            assert!(!card[field].is_null(), "{field}");
        }
    }
    // Default sort is descending by updatedAt.
    let updated: Vec<&str> = cards
        .iter()
        .map(|c| c["updatedAt"].as_str().unwrap())
        .collect();
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    assert!(updated.windows(2).all(|w| parse(w[0]) >= parse(w[1])));
}

#[tokio::test]
async fn limit_over_100_is_rejected() {
    let sb = start(quiet_config()).await;
    let resp = sb
        .post(
            &demo_token(1),
            CARDS,
            &json!({"settings": {"cursor": {"limit": 101}}}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body = json(resp).await;
    assert_eq!(body["error"], true);
    assert!(body["errorText"].as_str().unwrap().contains("limit"));
}

fn assert_wb_401(body: &Value) {
    assert_eq!(body["title"], "unauthorized");
    assert_eq!(body["status"], 401);
    assert_eq!(body["statusText"], "Unauthorized");
    for field in ["detail", "code", "requestId", "origin", "timestamp"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
}

#[tokio::test]
async fn token_without_content_category_gets_401() {
    let sb = start(quiet_config()).await;
    let token = mint_token(&TokenOptions {
        categories: vec![
            Category::Analytics,
            Category::Marketplace,
            Category::Statistics,
        ],
        ..TokenOptions::demo(1)
    });
    let resp = sb.post(&token, CARDS, &json!({"settings": {}})).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    assert_wb_401(&json(resp).await);
    // The same token is fine where its categories apply.
    assert_eq!(sb.get(&token, "/api/v3/warehouses").await.status(), 200);
    // And each category guards its own endpoints.
    let content_only = mint_token(&TokenOptions {
        categories: vec![Category::Content],
        ..TokenOptions::demo(1)
    });
    assert_eq!(
        sb.get(&content_only, "/api/v3/warehouses").await.status(),
        401
    );
    assert_eq!(
        sb.get(&content_only, "/api/v1/supplier/orders?dateFrom=2026-01-01")
            .await
            .status(),
        401
    );
    assert_eq!(
        sb.post(
            &content_only,
            "/api/analytics/v1/stocks-report/wb-warehouses",
            &json!({})
        )
        .await
        .status(),
        401
    );
}

#[tokio::test]
async fn expired_missing_or_garbled_tokens_get_401() {
    let sb = start(quiet_config()).await;
    let expired = mint_token(&TokenOptions {
        expires_at: Utc::now() - Duration::minutes(1),
        ..TokenOptions::demo(1)
    });
    let resp = sb.post(&expired, CARDS, &json!({"settings": {}})).await;
    assert_eq!(resp.status(), 401);
    let body = json(resp).await;
    assert_wb_401(&body);
    assert!(body["detail"].as_str().unwrap().contains("expired"));

    let valid = demo_token(1);
    let garbled = format!("{}x!", &valid[..valid.len() - 5]);
    for bad in ["", "not-a-jwt", garbled.as_str()] {
        let resp = sb.post(bad, CARDS, &json!({"settings": {}})).await;
        assert_eq!(resp.status(), 401, "token {bad:?}");
        assert_wb_401(&json(resp).await);
    }
    let resp = sb
        .client
        .post(sb.url(CARDS))
        .json(&json!({"settings": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A Bearer prefix is tolerated, and test tokens work in the sandbox.
    assert_eq!(
        sb.post(&format!("Bearer {valid}"), CARDS, &json!({}))
            .await
            .status(),
        200
    );
    let test_token = mint_token(&TokenOptions {
        token_type: TokenType::Test,
        test: true,
        ..TokenOptions::demo(1)
    });
    assert_eq!(sb.post(&test_token, CARDS, &json!({})).await.status(), 200);
}

#[tokio::test]
async fn ping_and_unknown_paths() {
    let sb = start(quiet_config()).await;
    let resp = sb.get(&demo_token(1), "/ping").await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["Status"], "OK");
    assert!(body["TS"].as_str().unwrap().ends_with("+03:00"));
    assert_eq!(sb.get("garbage", "/ping").await.status(), 401);

    // On a WB host name, /ping also checks that the token covers that host's category.
    let analytics_only = mint_token(&TokenOptions {
        categories: vec![Category::Analytics],
        ..TokenOptions::demo(1)
    });
    let ping_on = |host: &'static str| {
        sb.client
            .get(sb.url("/ping"))
            .header("Authorization", &analytics_only)
            .header("Host", host)
            .send()
    };
    assert_eq!(
        ping_on("content-api.wildberries.ru")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        ping_on("seller-analytics-api.wildberries.ru")
            .await
            .unwrap()
            .status(),
        200
    );

    let resp = sb.get(&demo_token(1), "/api/v1/supplier/stocks").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["title"], "path not found");
}
