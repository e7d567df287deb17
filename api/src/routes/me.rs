use crate::auth::Person;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::{RoleView, TenantView, UserView};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use stock_tracker_shared::accounts::{tenants, users};
use stock_tracker_shared::tenancy;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub tenant: TenantView,
    pub role: RoleView,
}

#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user, their tenant and role", body = MeResponse),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API keys have no user (`forbidden`); sign in as a person", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(State(state): State<AppState>, person: Person) -> ApiResult<Json<MeResponse>> {
    let (auth, me) = (person.auth, person.user);
    let mut tx = tenancy::begin(&state.db, auth.scope().with_user(me)).await?;
    let user = users::by_id(&mut tx, me)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let tenant = tenants::current(&mut tx)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    tx.commit().await?;
    Ok(Json(MeResponse {
        user: user.into(),
        tenant: tenant.into(),
        role: auth.role.into(),
    }))
}
