//! `/api/v1/tenant`: the signed-in user's tenant.

use crate::auth::{Active, Auth, Manager};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::JsonBody;
use crate::routes::TenantView;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use stock_tracker_shared::accounts::{CompanyName, tenants};
use stock_tracker_shared::tenancy;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateTenantRequest {
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*[^\s\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*$"
    )]
    pub name: Option<String>,
    /// How often to sync from WB, 5 to 1440 minutes.
    #[schema(minimum = 5, maximum = 1440)]
    pub sync_interval_minutes: Option<i32>,
}

#[utoipa::path(
    get, path = "/api/v1/tenant", tag = "tenant",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
    )
)]
pub async fn get_tenant(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<TenantView>> {
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let tenant = tenants::current(&mut tx)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    tx.commit().await?;
    Ok(Json(tenant.into()))
}

#[utoipa::path(
    patch, path = "/api/v1/tenant", tag = "tenant",
    security(("bearer" = [])),
    request_body = UpdateTenantRequest,
    responses(
        (status = 200, description = "The updated tenant", body = TenantView),
        (status = 402, description = "The subscription is read-only (`subscription_inactive`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins can rename the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Name or sync interval out of bounds (`invalid_name`, `invalid_sync_interval`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_tenant(
    State(state): State<AppState>,
    manager: Active<Manager>,
    JsonBody(body): JsonBody<UpdateTenantRequest>,
) -> ApiResult<Json<TenantView>> {
    let auth = manager.auth;
    let name = body
        .name
        .as_deref()
        .map(CompanyName::parse)
        .transpose()
        .map_err(|e| ApiError::field("name", e))?;
    if let Some(minutes) = body.sync_interval_minutes
        && !(5..=1440).contains(&minutes)
    {
        return Err(ApiError::invalid(
            "invalid_sync_interval",
            "sync_interval_minutes",
            "The sync interval is 5 to 1440 minutes.",
        ));
    }
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let tenant = tenants::update(
        &mut tx,
        name.as_ref().map(CompanyName::as_str),
        body.sync_interval_minutes,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("tenant"))?;
    tx.commit().await?;
    Ok(Json(tenant.into()))
}
