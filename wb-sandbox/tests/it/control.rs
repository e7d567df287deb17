//! The `/__sandbox/*` hooks used by tests and the demo script.

use crate::common;

use common::{json, quiet_config, start};
use serde_json::json;
use wb_sandbox::tokens::{decode_claims_unverified, verify};
use wb_sandbox::{Category, TokenType};

#[tokio::test]
async fn mint_tokens_over_http() {
    let sb = start(quiet_config()).await;
    let resp = sb
        .client
        .post(sb.url("/__sandbox/tokens"))
        .json(&json!({"seller_id": 71}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = json(resp).await["token"].as_str().unwrap().to_string();
    let v = verify(&token).unwrap();
    assert_eq!(v.seller_id, 71);
    assert_eq!(v.token_type, TokenType::Personal);
    assert!(v.read_only());
    assert_eq!(sb.get(&token, "/api/v3/warehouses").await.status(), 200);

    let resp = sb
        .client
        .post(sb.url("/__sandbox/tokens"))
        .json(&json!({"seller_id": 72, "type": "base", "categories": ["analytics"], "read_only": false, "days": 30}))
        .send()
        .await
        .unwrap();
    let token = json(resp).await["token"].as_str().unwrap().to_string();
    let v = verify(&token).unwrap();
    assert_eq!(v.token_type, TokenType::Base);
    assert!(v.has(Category::Analytics));
    assert!(!v.has(Category::Content));
    assert!(!v.read_only());
    let claims = decode_claims_unverified(&token).unwrap();
    let days = (claims.exp - chrono::Utc::now().timestamp()) / 86_400;
    assert!((29..=30).contains(&days), "{days}");

    let resp = sb
        .client
        .post(sb.url("/__sandbox/tokens"))
        .json(&json!({"seller_id": 73, "days": -1}))
        .send()
        .await
        .unwrap();
    let expired = json(resp).await["token"].as_str().unwrap().to_string();
    assert_eq!(sb.get(&expired, "/api/v3/warehouses").await.status(), 401);

    let resp = sb
        .client
        .post(sb.url("/__sandbox/tokens"))
        .json(&json!({"type": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn advance_and_state() {
    let sb = start(quiet_config()).await;
    let state = sb.advance(74, 5).await;
    assert_eq!(state["tick"], 5);
    assert_eq!(state["manual_ticks"], 5);
    assert!(state["epoch"].is_string());
    // Query parameters work too, for curl.
    let resp = sb
        .client
        .post(sb.url("/__sandbox/advance?seller_id=74&ticks=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(resp).await["tick"], 7);
    assert_eq!(sb.tick(74).await, 7);
    let resp = sb
        .client
        .get(sb.url("/__sandbox/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
