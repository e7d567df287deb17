//! Stock on WB warehouses: the synchronous stocks report and the async warehouse_remains
//! report.

use crate::common;

use common::{demo_token, json, quiet_config, start};
use serde_json::{Value, json};
use wb_sandbox::catalog::{self, RemainsGrouping};
use wb_sandbox::{SandboxConfig, TokenOptions, TokenType, mint_token};

const REPORT: &str = "/api/analytics/v1/stocks-report/wb-warehouses";

fn expected_items(seller: i64, cfg: &SandboxConfig, tick: u64) -> Vec<Value> {
    catalog::wb_warehouse_stock(seller, cfg, tick)
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

#[tokio::test]
async fn offset_paging_returns_every_row_once_in_order() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let token = demo_token(31);
    let mut got = Vec::new();
    let limit = 77;
    loop {
        let resp = sb
            .post(
                &token,
                REPORT,
                &json!({"limit": limit, "offset": got.len()}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("x-ratelimit-remaining"));
        let items = json(resp).await["data"]["items"]
            .as_array()
            .unwrap()
            .clone();
        let n = items.len();
        got.extend(items);
        if n < limit {
            break;
        }
    }
    assert_eq!(got, expected_items(31, &cfg, 0));
    let first = &got[0];
    for field in [
        "nmId",
        "chrtId",
        "warehouseId",
        "warehouseName",
        "regionName",
        "quantity",
        "inWayToClient",
        "inWayFromClient",
    ] {
        assert!(!first[field].is_null(), "{field}");
    }

    // Default limit returns everything at once.
    let all = json(sb.post(&token, REPORT, &json!({})).await).await;
    assert_eq!(all["data"]["items"].as_array().unwrap().len(), got.len());
    let resp = sb.post(&token, REPORT, &json!({"limit": 250_001})).await;
    assert_eq!(resp.status(), 400);
    let err = json(resp).await;
    for field in ["title", "detail", "requestId", "origin"] {
        assert!(err[field].is_string(), "{field}");
    }
}

#[tokio::test]
async fn nm_and_chrt_filters() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let products = catalog::products(32, &cfg);
    let (a, b) = (&products[3], &products[10]);
    let body = json!({"nmIds": [b.nm_id, a.nm_id], "chrtIds": [a.sizes[1].chrt_id]});
    let items = json(sb.post(&demo_token(32), REPORT, &body).await).await["data"]["items"]
        .as_array()
        .unwrap()
        .clone();
    let expected: Vec<Value> = expected_items(32, &cfg, 0)
        .into_iter()
        .filter(|r| r["chrtId"] == a.sizes[1].chrt_id || r["nmId"] == b.nm_id)
        .collect();
    assert_eq!(items, expected);
    assert_eq!(
        items.len(),
        cfg.wb_warehouses as usize * (1 + cfg.sizes_per_product as usize)
    );
}

#[tokio::test]
async fn report_follows_advances() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let token = demo_token(33);
    let before = json(sb.post(&token, REPORT, &json!({})).await).await;
    let state = sb.advance(33, 12).await;
    assert_eq!(state["tick"], 12);
    assert_eq!(sb.tick(33).await, 12);
    let after = json(sb.post(&token, REPORT, &json!({})).await).await;
    assert_ne!(before, after);
    assert_eq!(
        after["data"]["items"].as_array().unwrap(),
        &expected_items(33, &cfg, 12)
    );
    // Other sellers are not advanced.
    assert_eq!(sb.tick(34).await, 0);
}

#[tokio::test]
async fn base_token_is_refused_by_stocks_report_but_remains_report_works() {
    let cfg = quiet_config();
    let sb = start(cfg.clone()).await;
    let base = mint_token(&TokenOptions {
        token_type: TokenType::Base,
        ..TokenOptions::demo(35)
    });
    let resp = sb.post(&base, REPORT, &json!({})).await;
    assert_eq!(resp.status(), 403);
    let body = json(resp).await;
    assert_eq!(body["title"], "forbidden");
    for field in ["title", "detail", "requestId", "origin"] {
        assert!(body[field].is_string(), "{field}");
    }

    sb.advance(35, 4).await;
    let created = json(
        sb.get(
            &base,
            "/api/v1/warehouse_remains?groupByNm=true&groupBySize=true&groupByBarcode=true&groupByBrand=true&groupBySubject=true&groupBySa=true",
        )
        .await,
    )
    .await;
    let task = created["data"]["taskId"].as_str().unwrap().to_string();
    let mut status = String::new();
    for _ in 0..10 {
        let s = json(
            sb.get(
                &base,
                &format!("/api/v1/warehouse_remains/tasks/{task}/status"),
            )
            .await,
        )
        .await;
        assert_eq!(s["data"]["id"], task.as_str());
        status = s["data"]["status"].as_str().unwrap().to_string();
        if status == "done" {
            break;
        }
    }
    assert_eq!(status, "done");
    let resp = sb
        .get(
            &base,
            &format!("/api/v1/warehouse_remains/tasks/{task}/download"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let rows = json(resp).await;
    let expected = serde_json::to_value(catalog::warehouse_remains(
        35,
        &cfg,
        4,
        &RemainsGrouping::per_size(),
    ))
    .unwrap();
    assert_eq!(rows, expected);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 150);
    assert!(rows[0]["volume"].is_number());
    let names: Vec<&str> = rows
        .iter()
        .flat_map(|r| r["warehouses"].as_array().unwrap())
        .map(|w| w["warehouseName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Склад WB РФ"));
    assert!(names.contains(&"Всего находится на складах"));

    // Totals agree with the stocks report for the same tick.
    let stock = catalog::wb_warehouse_stock(35, &cfg, 4);
    let total_stock: u64 = stock.iter().map(|r| u64::from(r.quantity)).sum();
    let total_report: u64 = rows
        .iter()
        .flat_map(|r| r["warehouses"].as_array().unwrap())
        .filter(|w| w["warehouseName"] == "Всего находится на складах")
        .map(|w| w["quantity"].as_u64().unwrap())
        .sum();
    assert_eq!(total_stock, total_report);
}

#[tokio::test]
async fn remains_task_errors() {
    let sb = start(quiet_config()).await;
    let token = demo_token(36);
    let resp = sb.get(&token, "/api/v1/warehouse_remains?groupByNm=").await;
    assert_eq!(resp.status(), 400);
    let resp = sb
        .get(&token, "/api/v1/warehouse_remains/tasks/not-a-uuid/status")
        .await;
    assert_eq!(resp.status(), 400);
    let unknown = uuid::Uuid::new_v4();
    let resp = sb
        .get(
            &token,
            &format!("/api/v1/warehouse_remains/tasks/{unknown}/download"),
        )
        .await;
    assert_eq!(resp.status(), 404);
    // Another seller cannot see the task.
    let created = json(
        sb.get(&token, "/api/v1/warehouse_remains?groupByNm=true")
            .await,
    )
    .await;
    let task = created["data"]["taskId"].as_str().unwrap();
    let resp = sb
        .get(
            &demo_token(37),
            &format!("/api/v1/warehouse_remains/tasks/{task}/status"),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn remains_become_ready_after_polls_when_limits_are_on() {
    let cfg = SandboxConfig {
        rate_limit_scale: 1000.0,
        ..quiet_config()
    };
    let sb = start(cfg).await;
    let token = demo_token(38);
    let created = json(
        sb.get(&token, "/api/v1/warehouse_remains?groupByNm=true")
            .await,
    )
    .await;
    let task = created["data"]["taskId"].as_str().unwrap();
    let path = format!("/api/v1/warehouse_remains/tasks/{task}/status");
    let first = json(sb.get(&token, &path).await).await;
    assert_eq!(first["data"]["status"], "processing");
    let second = json(sb.get(&token, &path).await).await;
    assert_eq!(second["data"]["status"], "done");
}
