//! `/api/v1/sync`: start a sync and follow its runs.

use crate::auth::{Active, Auth, Caller, Writer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::{PathParams, QueryParams};
use crate::http::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use stock_tracker_shared::accounts::is_unique_violation;
use stock_tracker_shared::billing::usage;
use stock_tracker_shared::credentials::{self, CredentialStatus};
use stock_tracker_shared::ids::SyncRunId;
use stock_tracker_shared::jobs;
use stock_tracker_shared::sync::runs::{self, RunStatus, SyncRun, Trigger};
use stock_tracker_shared::sync::{Failure, pause, schedule};
use stock_tracker_shared::tenancy;
use stock_tracker_wb::WbError;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStarted {
    #[schema(value_type = Uuid)]
    pub run_id: SyncRunId,
    pub status: RunStatus,
}

#[utoipa::path(
    post, path = "/api/v1/sync", tag = "sync",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Sync queued; follow it at `Location`", body = SyncStarted),
        (status = 402, description = "The subscription is read-only (`subscription_inactive`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot start syncs", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A sync is already queued or running (`sync_in_progress`, with `run_id`), or no usable token (`credential_required`, `credential_invalid`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Syncing is paused on our side (`wb_service_unpaid`); nothing to do for the seller", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The plan's manual syncs for the last 24 hours are used (`manual_sync_limit`, with `limit`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_sync(
    State(state): State<AppState>,
    writer: Active<Writer>,
) -> ApiResult<Response> {
    let limit = writer.subscription.limits().manual_syncs_per_day;
    let auth = writer.auth();
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let (_, manual_today) =
        usage::syncs_since(&mut tx, Utc::now() - chrono::Duration::days(1)).await?;
    if manual_today >= limit {
        return Err(ApiError::too_many_requests(
            "manual_sync_limit",
            3600,
            format!("The plan allows {limit} manual syncs in 24 hours; scheduled syncs continue meanwhile."),
        )
        .with_extension("limit", limit.into()));
    }
    let blocked = match credentials::info(&mut tx).await? {
        None => Some(Failure::credential_required()),
        Some(c) if c.status != CredentialStatus::Active => Some(Failure::credential_invalid()),
        Some(_) => None,
    };
    if let Some(f) = blocked {
        return Err(ApiError::conflict(f.code(), f.message()));
    }
    if pause::current(&mut *tx).await?.is_some() {
        let f = Failure::wb(&WbError::ServiceUnpaid);
        return Err(
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, f.code(), f.message())
                .with_retry_after(3600),
        );
    }
    let run = match jobs::queue::queue_sync(&mut tx, auth.tenant, Trigger::Manual).await {
        Ok(run) => run,
        Err(e) if is_unique_violation(&e, runs::ONE_ACTIVE) => {
            drop(tx);
            let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
            let active = runs::active(&mut tx).await?;
            return Err(ApiError::conflict(
                "sync_in_progress",
                "A sync is already queued or running.",
            )
            .with_extension("run_id", serde_json::json!(active.map(|r| r.id))));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    let location = format!("/api/v1/sync/runs/{}", run.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(SyncStarted {
            run_id: run.id,
            status: run.status,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/api/v1/sync/runs", tag = "sync",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Runs, newest first", body = Page<SyncRun>),
        (status = 422, description = "Bad `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_runs(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(page): QueryParams<PageQuery>,
) -> ApiResult<Json<Page<SyncRun>>> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, SyncRunId)> = page.after()?;
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let rows = runs::page(&mut tx, after, limit + 1).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| (r.queued_at, r.id),
        |r| r,
    )))
}

#[utoipa::path(
    get, path = "/api/v1/sync/runs/{run_id}", tag = "sync",
    security(("bearer" = [])),
    params(("run_id" = Uuid, Path, description = "The run id from POST /api/v1/sync")),
    responses(
        (status = 200, description = "The run", body = SyncRun),
        (status = 404, description = "No such run in this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_run(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(run_id): PathParams<SyncRunId>,
) -> ApiResult<Json<SyncRun>> {
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let run = runs::get(&mut tx, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found("sync run"))?;
    tx.commit().await?;
    Ok(Json(run))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatus {
    pub last_success_at: Option<DateTime<Utc>>,
    pub running: bool,
    /// The queued or running run, if any.
    pub active_run: Option<SyncRun>,
    /// The most recent finished run, successful or not.
    pub last_run: Option<SyncRun>,
    /// When the tenant becomes due for a scheduled sync (the scheduler queues it at its next
    /// tick). Absent while a sync is queued or running, and while scheduled syncs are
    /// stopped (no usable token, or a read-only subscription).
    pub next_due_at: Option<DateTime<Utc>>,
    pub credential_status: CredentialState,
}

/// Whether syncing has a usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Active,
    /// WB refused the stored token; syncing stops until it is replaced.
    Invalid,
    /// No token is stored.
    Missing,
}

#[utoipa::path(
    get, path = "/api/v1/sync/status", tag = "sync",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where syncing stands", body = SyncStatus),
    )
)]
pub async fn status(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SyncStatus>> {
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let active = runs::active(&mut tx).await?;
    let last_success = runs::last_with_status(&mut tx, RunStatus::Succeeded).await?;
    let last_failed = runs::last_with_status(&mut tx, RunStatus::Failed).await?;
    let credential = credentials::info(&mut tx).await?;
    let next_due_at = schedule::next_due_at(&mut tx).await?;
    tx.commit().await?;
    let last_success_at = last_success.as_ref().and_then(|r| r.finished_at);
    let last_run = [last_success, last_failed]
        .into_iter()
        .flatten()
        .max_by_key(|r| r.finished_at);
    let credential_status = match credential.map(|c| c.status) {
        None => CredentialState::Missing,
        Some(CredentialStatus::Active) => CredentialState::Active,
        Some(CredentialStatus::Invalid) => CredentialState::Invalid,
    };
    Ok(Json(SyncStatus {
        last_success_at,
        running: active.is_some(),
        active_run: active,
        last_run,
        next_due_at,
        credential_status,
    }))
}
