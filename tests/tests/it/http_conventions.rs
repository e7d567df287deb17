//! Conventions every route shares: problem documents, request ids, limits, health,
//! metrics and the API documentation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stock_tracker_tests::TestApp;

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.call(Method::GET, "/api/v1/nope", None, None)
        .await
        .problem(404, "route_not_found");
    app.call(Method::DELETE, "/api/v1/auth/login", None, None)
        .await
        .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::builder()
        .env("BODY_LIMIT_BYTES", "1024")
        .spawn()
        .await;
    let huge = json!({"email": "a@b.co", "password": "x".repeat(4096), "company_name": "X"});
    app.post("/api/v1/auth/register", None, huge)
        .await
        .problem(413, "body_too_large");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_appear_in_problems() {
    let app = TestApp::spawn().await;
    let mine = app
        .send(
            app.client
                .get(app.url("/api/v1/nope"))
                .header("x-request-id", "req-123_abc"),
        )
        .await;
    assert_eq!(mine.headers["x-request-id"], "req-123_abc");
    assert_eq!(mine.body["request_id"], "req-123_abc");

    // Hostile ids (log injection, absurd length) are replaced by a generated one.
    for hostile in ["a b\tc", &"x".repeat(500)] {
        let a = app
            .send(
                app.client
                    .get(app.url("/health/live"))
                    .header("x-request-id", hostile),
            )
            .await;
        let echoed = a.headers["x-request-id"].to_str().unwrap();
        assert_ne!(echoed, hostile);
        assert!(uuid::Uuid::parse_str(echoed).is_ok());
    }
    let generated = app.send(app.client.get(app.url("/health/live"))).await;
    assert!(uuid::Uuid::parse_str(generated.headers["x-request-id"].to_str().unwrap()).is_ok());
}

const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789abcdef";

/// A public answer of `/health/ready` while something is wrong: a 503 `unavailable`
/// problem and nothing else (which part failed, and why, is for the operator).
fn assert_only_unavailable(public: &stock_tracker_tests::http::Answer, leaks: &[&str]) {
    let p = public.problem(503, "unavailable");
    assert!(p.get("checks").is_none(), "{p}");
    for leak in leaks {
        assert!(
            !public.text.to_lowercase().contains(&leak.to_lowercase()),
            "the public answer reveals {leak:?}: {}",
            public.text
        );
    }
}

/// `/health/ready` as the operator sees it while something is wrong: the `checks`, with
/// `healthy` ok and `failed` an error (returned).
async fn operator_checks(app: &TestApp, healthy: &str, failed: &str) -> String {
    let detail = app
        .call(Method::GET, "/health/ready", Some(OPERATOR_TOKEN), None)
        .await;
    let checks = &detail.problem(503, "unavailable")["checks"];
    assert_eq!(checks[healthy], "ok", "{checks}");
    let error = checks[failed].as_str().unwrap_or_default();
    assert!(error.starts_with("error"), "{checks}");
    error.to_string()
}

#[tokio::test]
async fn readiness_answers_only_ok_and_the_operator_token_gets_the_checks() {
    let app = TestApp::builder()
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .spawn()
        .await;
    let live = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body, json!({"status": "ok"}));
    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:#?}");
    assert_eq!(ready.body, json!({"status": "ok"}));
    // A wrong token (or a seller's access token) is answered like no token at all.
    let s = app.register("ready@shop.ru", "Ready").await;
    for wrong in [&s.access, "operator-token-for-tests-0123456789abcdeX"] {
        let a = app
            .call(Method::GET, "/health/ready", Some(wrong), None)
            .await;
        assert_eq!(a.body, json!({"status": "ok"}), "{a:#?}");
    }
    let detail = app
        .call(Method::GET, "/health/ready", Some(OPERATOR_TOKEN), None)
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:#?}");
    assert_eq!(
        detail.body["checks"],
        json!({"postgres": "ok", "redis": "ok", "migrations": "ok"})
    );
}

#[tokio::test]
async fn readiness_hides_pending_migration_versions_from_the_public() {
    let app = TestApp::builder()
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .spawn()
        .await;
    // A database that lacks the latest migration is not ready.
    let version: i64 = sqlx::query_scalar(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)
         returning version",
    )
    .fetch_one(&app.db.owner)
    .await
    .unwrap();
    let public = app.call(Method::GET, "/health/ready", None, None).await;
    assert_only_unavailable(&public, &[&version.to_string(), "migration", "error"]);

    let migrations = operator_checks(&app, "postgres", "migrations").await;
    assert!(migrations.contains(&version.to_string()), "{migrations}");
}

#[tokio::test]
async fn readiness_hides_redis_errors_from_the_public() {
    // Port 1 on loopback: nothing listens there.
    let app = TestApp::builder()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .spawn()
        .await;
    let public = app.call(Method::GET, "/health/ready", None, None).await;
    assert_only_unavailable(&public, &["redis", "refused", "127.0.0.1", "error"]);

    operator_checks(&app, "postgres", "redis").await;
    // Sign-up and sign-in do not depend on Redis: the throttle degrades to letting through.
    let s = app.register("noredis@shop.ru", "Shop").await;
    assert_eq!(
        app.get("/api/v1/me", &s.access).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.login("noredis@shop.ru", "wrong password").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn readiness_hides_postgres_errors_from_the_public() {
    let app = TestApp::builder()
        .env(
            "DATABASE_URL",
            "postgres://stock_tracker_app:wrong@127.0.0.1:1/stock_tracker",
        )
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .spawn()
        .await;
    let public = app.call(Method::GET, "/health/ready", None, None).await;
    assert_only_unavailable(
        &public,
        &["postgres", "stock_tracker", "refused", "127.0.0.1", "error"],
    );
    operator_checks(&app, "redis", "postgres").await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.call(Method::GET, "/health/live", None, None).await;
    app.call(Method::GET, "/api/v1/me", None, None).await;
    app.call(Method::GET, "/no/such/route", None, None).await;
    let m = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics")
    );
    let text = &m.text;
    assert!(
        text.contains(
            r#"stock_tracker_http_requests_total{method="GET",route="/health/live",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/me",status="401""#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("stock_tracker_http_request_duration_seconds_bucket"));
}

/// Every route the router serves, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/accept-invitation"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/tenant"),
    ("patch", "/api/v1/tenant"),
    ("get", "/api/v1/tenant/members"),
    ("delete", "/api/v1/tenant/members/{user_id}"),
    ("post", "/api/v1/tenant/invitations"),
    ("get", "/api/v1/tenant/invitations"),
    ("delete", "/api/v1/tenant/invitations/{id}"),
    ("put", "/api/v1/wb/credentials"),
    ("get", "/api/v1/wb/credentials"),
    ("delete", "/api/v1/wb/credentials"),
    ("post", "/api/v1/sync"),
    ("get", "/api/v1/sync/runs"),
    ("get", "/api/v1/sync/runs/{run_id}"),
    ("get", "/api/v1/sync/status"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/products/{nm_id}"),
    ("get", "/api/v1/products/{nm_id}/stock-history"),
    ("get", "/api/v1/stocks"),
    ("get", "/api/v1/warehouses"),
    ("get", "/api/v1/sizes"),
    ("get", "/api/v1/billing/plans"),
    ("get", "/api/v1/billing/subscription"),
    ("post", "/api/v1/billing/checkout-session"),
    ("post", "/api/v1/billing/portal-session"),
    ("post", "/api/v1/billing/change-plan"),
    ("post", "/api/v1/billing/cancel"),
    ("get", "/api/v1/billing/usage"),
    ("post", "/api/v1/billing/webhook"),
    ("post", "/api/v1/api-keys"),
    ("get", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{id}"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
];

#[tokio::test]
async fn openapi_documents_every_route_with_schemas_and_errors() {
    let app = TestApp::spawn().await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            documented += 1;
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not in the route list"
            );
            let responses = op["responses"].as_object().unwrap();
            let success = responses.keys().any(|k| k.starts_with('2'));
            assert!(success, "{method} {path} documents no success response");
            // Health, metrics and the public price list take no input that could be wrong.
            let no_input = ["/metrics", "/api/v1/billing/plans"].contains(&path.as_str());
            if !path.starts_with("/health") && !no_input {
                let problem = responses.iter().any(|(code, r)| {
                    code.starts_with('4')
                        && r["content"]["application/problem+json"]["schema"]["$ref"]
                            == "#/components/schemas/Problem"
                });
                assert!(problem, "{method} {path} documents no problem response");
            }
            // Starting a sync and opening the billing portal are actions without a body.
            let bodiless = ["/api/v1/sync", "/api/v1/billing/portal-session"];
            if ["post", "patch", "put"].contains(&method.as_str())
                && !bodiless.contains(&path.as_str())
            {
                assert!(
                    op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} has no request schema"
                );
            }
        }
    }
    assert_eq!(documented, ROUTES.len(), "every route is documented");
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());

    // And every documented route is really served (not a 404 from the fallback).
    for (method, path) in ROUTES {
        let path = path
            .replace("{user_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{run_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{nm_id}", "12345");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let a = app.call(m, &path, None, Some(Value::Null)).await;
        assert_ne!(a.body["code"], "route_not_found", "{method} {path}");
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

#[tokio::test]
async fn docs_page_is_served_without_internet() {
    let app = TestApp::spawn().await;
    let page = app.send(app.client.get(app.url("/docs/"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    // The page's assets come from this server, not a CDN.
    assert!(!page.text.contains("cdn."), "{}", page.text);
    let js = app
        .send(app.client.get(app.url("/docs/swagger-ui-bundle.js")))
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text.len() > 100_000);
}

/// Issue 11, item 14: a NUL character anywhere in the input (a JSON string, a query value,
/// a cursor once decoded) is refused with 422 naming the field, never passed to PostgreSQL
/// (which answers "invalid byte sequence" and used to make a 500).
#[tokio::test]
async fn a_nul_character_in_any_input_is_a_422_naming_the_field() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "a\u{0}@shop.ru", "password": "whatever1"}),
        )
        .await;
    assert_eq!(login.problem(422, "invalid_text")["field"], "email");
    let register = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "nul@shop.ru", "password": "long enough", "company_name": "Shop\u{0}"}),
        )
        .await;
    assert_eq!(
        register.problem(422, "invalid_text")["field"],
        "company_name"
    );

    let s = app.register("reader@shop.ru", "Shop").await;
    let cursor = |key: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap())
    };
    for (url, field) in [
        ("/api/v1/products?search=a%00b".to_string(), "search"),
        ("/api/v1/stocks?search=a%00b".to_string(), "search"),
        ("/api/v1/stocks?size=M%00".to_string(), "size"),
        (
            format!(
                "/api/v1/stocks?cursor={}",
                cursor(
                    json!({"quantity": 1, "nm_id": 1, "chrt_id": 1, "kind": "wb\u{0}", "warehouse_id": 1})
                )
            ),
            "cursor",
        ),
        (
            format!(
                "/api/v1/products/1/stock-history?cursor={}",
                cursor(json!(["2026-11-01T00:00:00Z", "seller\u{0}", 1, 1]))
            ),
            "cursor",
        ),
    ] {
        let a = app.get(&url, &s.access).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {a:#?}");
        assert_eq!(a.body["field"], field, "{url}: {a:#?}");
        assert_eq!(
            a.headers["content-type"], "application/problem+json",
            "{url}"
        );
    }
}
