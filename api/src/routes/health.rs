//! Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
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
    /// Each dependency and its state (`ok` or the failure).
    pub checks: BTreeMap<&'static str, String>,
}

#[utoipa::path(
    get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

#[utoipa::path(
    get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "PostgreSQL, Redis and migrations are all fine", body = Health),
        (status = 503, description = "Not ready; `checks` says which part failed (`not_ready`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
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
    if checks.values().all(|v| v == "ok") {
        return Json(Health {
            status: "ok",
            checks,
        })
        .into_response();
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, v)| *v != "ok")
        .map(|(k, _)| *k)
        .collect();
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        format!("Not ready: {}.", failed.join(", ")),
    )
    .with_extension("checks", json!(checks))
    .into_response()
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
