//! The asynchronous `warehouse_remains` report: create a task, poll its status, download.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::{Caller, json_bytes, json_ok};
use crate::catalog::{RemainsGrouping, remains_rows};
use crate::errors;
use crate::state::{AppState, RemainsTask};

/// A report is ready after this long, or at the second status poll, whichever comes first;
/// with rate limits off (`rate_limit_scale = 0`) it is ready at once.
const READY_AFTER: Duration = Duration::from_secs(1);
const READY_AT_POLL: u32 = 2;

fn bad_request(detail: String) -> Response {
    errors::reports(StatusCode::BAD_REQUEST, "Bad Request", &detail)
}

fn not_found() -> Response {
    errors::reports(StatusCode::NOT_FOUND, "Not Found", "not found")
}

fn parse_bool(q: &HashMap<String, String>, name: &str) -> Result<bool, String> {
    match q.get(name).map(String::as_str) {
        None => Ok(false),
        Some("") => Err(format!(
            "parameter \"{name}\" in query has an error: empty value is not allowed"
        )),
        Some(v) => v.parse::<bool>().map_err(|_| {
            format!(
                "parameter \"{name}\" in query has an error: value {v}: an invalid boolean: invalid syntax"
            )
        }),
    }
}

fn parse_choice(q: &HashMap<String, String>, name: &str, allowed: &[i32]) -> Result<i32, String> {
    match q.get(name) {
        None => Ok(0),
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|n| allowed.contains(n))
            .ok_or_else(|| {
                format!("parameter \"{name}\" in query has an error: value {v} is not allowed")
            }),
    }
}

fn grouping(q: &HashMap<String, String>) -> Result<RemainsGrouping, String> {
    Ok(RemainsGrouping {
        brand: parse_bool(q, "groupByBrand")?,
        subject: parse_bool(q, "groupBySubject")?,
        sa: parse_bool(q, "groupBySa")?,
        nm: parse_bool(q, "groupByNm")?,
        barcode: parse_bool(q, "groupByBarcode")?,
        size: parse_bool(q, "groupBySize")?,
        filter_pics: parse_choice(q, "filterPics", &[-1, 0, 1])?,
        filter_volume: parse_choice(q, "filterVolume", &[-1, 0, 3])?,
    })
}

pub async fn create(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let grouping = match grouping(&q) {
        Ok(g) => g,
        Err(detail) => return bad_request(detail),
    };
    let rows = app.with_sim(token.seller_id, |cat, sim| {
        remains_rows(cat, sim, &grouping)
    });
    let body = if rows.is_empty() {
        None
    } else {
        match serde_json::to_vec(&rows) {
            Ok(b) => Some(Bytes::from(b)),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    };
    let id = Uuid::new_v4();
    app.insert_task(
        id,
        RemainsTask {
            seller_id: token.seller_id,
            created: Instant::now(),
            status_polls: 0,
            body,
        },
    );
    json_ok(&json!({"data": {"taskId": id.to_string()}}))
}

fn parse_task_id(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|e| {
        format!("Invalid format for parameter task_id: error unmarshaling '{raw}' text as *uuid.UUID: {e}")
    })
}

fn ready(app: &AppState, task: &RemainsTask) -> bool {
    app.cfg().rate_limit_scale == 0.0
        || task.status_polls >= READY_AT_POLL
        || task.created.elapsed() >= READY_AFTER
}

pub async fn status(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Path(task_id): Path<String>,
) -> Response {
    let id = match parse_task_id(&task_id) {
        Ok(id) => id,
        Err(detail) => return bad_request(detail),
    };
    let status = app.with_task(&id, |task| {
        let task = task.filter(|t| t.seller_id == token.seller_id)?;
        task.status_polls += 1;
        Some(if ready(&app, task) {
            "done"
        } else {
            "processing"
        })
    });
    match status {
        Some(status) => json_ok(&json!({"data": {"id": id.to_string(), "status": status}})),
        None => not_found(),
    }
}

pub async fn download(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    Path(task_id): Path<String>,
) -> Response {
    let id = match parse_task_id(&task_id) {
        Ok(id) => id,
        Err(detail) => return bad_request(detail),
    };
    let outcome = app.with_task(&id, |task| {
        let task = task.filter(|t| t.seller_id == token.seller_id)?;
        Some(ready(&app, task).then(|| task.body.clone()))
    });
    match outcome {
        None => not_found(),
        Some(None) => {
            bad_request("report is not ready yet: poll the task status until it is done".into())
        }
        Some(Some(None)) => StatusCode::NO_CONTENT.into_response(),
        Some(Some(Some(body))) => json_bytes(body),
    }
}
