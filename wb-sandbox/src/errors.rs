//! Error bodies in the shapes each WB service uses (they differ between services).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

pub const PROBLEM_JSON: &str = "application/problem+json";

pub fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn internal_code() -> String {
    format!(
        "{:08x}-{:012x}-[UK-sandbox]",
        rand::random::<u32>(),
        rand::random::<u64>() & 0xFFFF_FFFF_FFFF
    )
}

pub fn json_response(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    let mut resp = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The gateway's problem document (401, 403, 404, 429 on every host).
pub fn problem(status: StatusCode, title: &str, detail: &str, origin: &str) -> Response {
    problem_with_code(status, title, detail, &internal_code(), origin)
}

pub fn problem_with_code(
    status: StatusCode,
    title: &str,
    detail: &str,
    code: &str,
    origin: &str,
) -> Response {
    json_response(
        status,
        PROBLEM_JSON,
        &json!({
            "title": title,
            "detail": detail,
            "code": code,
            "requestId": request_id(),
            "origin": origin,
            "status": status.as_u16(),
            "statusText": status.canonical_reason().unwrap_or(""),
            "timestamp": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }),
    )
}

pub fn unauthorized(detail: &str) -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        detail,
        "s2s-api-auth-catalog",
    )
}

pub fn path_not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "path not found",
        "Please consult the https://dev.wildberries.ru/openapi/api-information",
        "s2s-api-auth-catalog",
    )
}

/// Content API (`responseBodyContentError400`).
pub fn content(status: StatusCode, text: &str) -> Response {
    json_response(
        status,
        "application/json",
        &json!({"data": null, "error": true, "errorText": text, "additionalErrors": null}),
    )
}

/// Analytics API (`ErrorObject400`).
pub fn analytics(status: StatusCode, title: &str, detail: &str) -> Response {
    json_response(
        status,
        "application/json",
        &json!({"title": title, "detail": detail, "requestId": request_id(), "origin": "analytic-open-api"}),
    )
}

/// Reports served by api-statistics (`4xxResponse`); WB sends 404s as problem+json.
pub fn reports(status: StatusCode, title: &str, detail: &str) -> Response {
    let content_type = if status == StatusCode::NOT_FOUND {
        PROBLEM_JSON
    } else {
        "application/json"
    };
    json_response(
        status,
        content_type,
        &json!({"detail": detail, "origin": "api-statistics", "requestId": request_id(), "title": title}),
    )
}

/// Marketplace API (`Error`).
pub fn marketplace(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        "application/json",
        &json!({"code": code, "message": message}),
    )
}

/// Statistics API; WB uses both a list and a plain string under `errors`.
pub fn statistics(errors: Value) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        "application/json",
        &json!({"errors": errors}),
    )
}
