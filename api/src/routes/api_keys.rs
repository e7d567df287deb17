//! `/api/v1/api-keys`: keys for the seller's own systems. Owners and admins manage them,
//! signed in as themselves (a key cannot mint or revoke keys).

use crate::auth::opaque::{self, API_KEY};
use crate::auth::{Active, Manager};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::{JsonBody, PathParams};
use crate::routes::members;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stock_tracker_shared::accounts::KeyName;
use stock_tracker_shared::accounts::api_keys::{self, ApiKey, KeyScope, NewKey};
use stock_tracker_shared::ids::ApiKeyId;
use stock_tracker_shared::tenancy;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    /// What the key is for, 1 to 100 characters ("ERP export").
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*[^\s\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*$"
    )]
    pub name: String,
    /// `read` (GET only) or `read_write` (also starts syncs).
    pub scope: KeyScope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKey,
    /// Shown once: send it as `Authorization: Bearer <key>`.
    pub secret: String,
}

#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys",
    security(("bearer" = [])), request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key; its secret is shown only now", body = ApiKeyCreated),
        (status = 402, description = "The subscription is read-only (`subscription_inactive`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins, signed in, manage keys", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad name (`invalid_name`) or scope (`invalid_field`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    manager: Active<Manager>,
    JsonBody(body): JsonBody<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let (auth, user) = (manager.auth, manager.user);
    let name = KeyName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    let generated = opaque::generate(API_KEY, auth.tenant);
    let hint: String = generated
        .token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    members::hold_manager(&mut tx, user).await?;
    let key = api_keys::insert(
        &mut tx,
        NewKey {
            tenant: auth.tenant,
            name: name.as_str(),
            scope: body.scope,
            key_hash: &generated.hash,
            hint: &hint,
            created_by: user,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            key,
            secret: generated.token,
        }),
    ))
}

#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Working keys with their last use (never the secret)", body = [ApiKey]),
        (status = 403, description = "Only owners and admins, signed in, see keys", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, manager: Manager) -> ApiResult<Json<Vec<ApiKey>>> {
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let keys = api_keys::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(keys))
}

#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked: the key stops working at once"),
        (status = 403, description = "Only owners and admins, signed in, revoke keys", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    manager: Manager,
    PathParams(id): PathParams<ApiKeyId>,
) -> ApiResult<StatusCode> {
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let revoked = api_keys::revoke(&mut tx, id).await?;
    tx.commit().await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("API key"))
    }
}
