//! Seller warehouses and their stock.

use crate::common;

use common::{demo_token, json, quiet_config, start};
use serde_json::json;
use wb_sandbox::SandboxConfig;
use wb_sandbox::catalog;

#[tokio::test]
async fn warehouses_and_stock_match_the_catalog() {
    let cfg = SandboxConfig {
        seller_warehouses: 2,
        ..quiet_config()
    };
    let sb = start(cfg.clone()).await;
    let token = demo_token(41);
    sb.advance(41, 3).await;

    let warehouses = json(sb.get(&token, "/api/v3/warehouses").await).await;
    let expected = catalog::seller_warehouses(41, &cfg);
    assert_eq!(warehouses, serde_json::to_value(&expected).unwrap());
    for field in [
        "name",
        "officeId",
        "id",
        "cargoType",
        "deliveryType",
        "isDeleting",
        "isProcessing",
    ] {
        assert!(!warehouses[0][field].is_null(), "{field}");
    }

    let stock = catalog::seller_stock(41, &cfg, 3);
    for w in &expected {
        let rows: Vec<_> = stock.iter().filter(|r| r.warehouse_id == w.id).collect();
        let chrt_ids: Vec<i64> = rows.iter().map(|r| r.chrt_id).collect();
        let resp = sb
            .post(
                &token,
                &format!("/api/v3/stocks/{}", w.id),
                &json!({"chrtIds": chrt_ids}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body = json(resp).await;
        let got = body["stocks"].as_array().unwrap();
        assert_eq!(got.len(), rows.len());
        for (g, r) in got.iter().zip(&rows) {
            assert_eq!(g["chrtId"], r.chrt_id);
            assert_eq!(g["amount"], r.amount);
        }
    }
    assert!(stock.iter().any(|r| r.amount == 0));

    // Foreign or unknown chrtIds are simply absent.
    let foreign = catalog::products(42, &cfg)[0].sizes[0].chrt_id;
    let body = json(
        sb.post(
            &token,
            &format!("/api/v3/stocks/{}", expected[0].id),
            &json!({"chrtIds": [foreign, stock[0].chrt_id]}),
        )
        .await,
    )
    .await;
    assert_eq!(body["stocks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn more_than_1000_chrt_ids_and_unknown_warehouse() {
    let sb = start(quiet_config()).await;
    let token = demo_token(43);
    let warehouse = catalog::seller_warehouses(43, &quiet_config())[0].id;
    let ids: Vec<i64> = (0..1001).collect();
    let resp = sb
        .post(
            &token,
            &format!("/api/v3/stocks/{warehouse}"),
            &json!({"chrtIds": ids}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body = json(resp).await;
    assert_eq!(body["code"], "IncorrectRequest");
    assert!(body["message"].is_string());

    let ids: Vec<i64> = (0..1000).collect();
    let resp = sb
        .post(
            &token,
            &format!("/api/v3/stocks/{warehouse}"),
            &json!({"chrtIds": ids}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    let resp = sb
        .post(&token, "/api/v3/stocks/1", &json!({"chrtIds": [1]}))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["code"], "NotFound");

    let resp = sb
        .post(
            &token,
            &format!("/api/v3/stocks/{warehouse}"),
            &json!({"skus": ["1"]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_4xx_costs_ten_requests() {
    let cfg = SandboxConfig {
        rate_limit_scale: 1.0,
        ..quiet_config()
    };
    let sb = start(cfg).await;
    let token = demo_token(44);
    let warehouse = catalog::seller_warehouses(44, &quiet_config())[0].id;
    let resp = sb
        .post(
            &token,
            &format!("/api/v3/stocks/{warehouse}"),
            &json!({"chrtIds": [1]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "19");
    let resp = sb
        .post(&token, "/api/v3/stocks/1", &json!({"chrtIds": [1]}))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "9");
    // Warehouses are a separate limit group with its own budget.
    let resp = sb.get(&token, "/api/v3/warehouses").await;
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "19");
}
