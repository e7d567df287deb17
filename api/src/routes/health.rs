//! Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus.
//!
//! `/health/ready` is public (nginx passes it through, uptime checks call it), so its answer
//! says only `ok` or `unavailable`. Which dependency failed and why goes to the log, and to a
//! request carrying the operator token (`Authorization: Bearer $OPERATOR_TOKEN`).

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use stock_tracker_shared::kv;
use stock_tracker_shared::tenancy::migrate;
use utoipa::ToSchema;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Each dependency and its state (`ok` or the failure); only for the operator token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<&'static str, String>>,
}

#[utoipa::path(
    get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        checks: None,
    })
}

#[utoipa::path(
    get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "PostgreSQL, Redis and migrations are all fine. With \
            `Authorization: Bearer <OPERATOR_TOKEN>` the answer also has `checks`", body = Health),
        (status = 503, description = "Not ready (`unavailable`); only the operator token gets \
            `checks` naming the failed part and why", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (postgres, redis, migrations) = tokio::join!(
        check(async {
            sqlx::query_scalar!(r#"select 1 as "ok!""#)
                .fetch_one(&state.db)
                .await?;
            Ok(())
        }),
        check(kv::ping(&state.redis)),
        check(async {
            let pending = migrate::pending(&state.db).await?;
            anyhow::ensure!(pending.is_empty(), "pending migrations: {pending:?}");
            Ok(())
        }),
    );
    let checks = BTreeMap::from([
        ("postgres", postgres),
        ("redis", redis),
        ("migrations", migrations),
    ]);
    let ready = checks.values().all(|v| v == "ok");
    if !ready {
        let failed: BTreeMap<_, _> = checks.iter().filter(|(_, v)| *v != "ok").collect();
        tracing::warn!(checks = ?failed, "not ready");
    }
    let detail = is_operator(&state, &headers).then_some(checks);
    if ready {
        return Json(Health {
            status: "ok",
            checks: detail,
        })
        .into_response();
    }
    let unavailable = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The service is unavailable.",
    );
    match detail {
        Some(checks) => unavailable.with_extension("checks", json!(checks)),
        None => unavailable,
    }
    .into_response()
}

/// Whether the request carries the configured operator token. Both sides are hashed first,
/// so the comparison takes the same time whatever the presented value's length or content.
fn is_operator(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.config.operator_token else {
        return false;
    };
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(presented.trim().as_bytes()),
        Sha256::digest(expected.expose().as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn check(fut: impl Future<Output = anyhow::Result<()>>) -> String {
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_string(),
    }
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(anyhow::anyhow!("encoding metrics: {e}")).into_response(),
    }
}
