//! `/api/v1/wb/credentials`: the tenant's Wildberries API token.

use crate::auth::{Active, Auth, Manager};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stock_tracker_shared::Secret;
use stock_tracker_shared::billing::trials;
use stock_tracker_shared::credentials::{self, CredentialInfo, CredentialStatus, NewCredential};
use stock_tracker_shared::ids::CredentialId;
use stock_tracker_shared::tenancy;
use stock_tracker_wb::policy::capabilities;
use stock_tracker_wb::{Capability, Category, Host, TokenPolicy, TokenType, token};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct PutCredentialRequest {
    /// The API token from the WB seller portal (Settings → API access). It is stored
    /// encrypted and never shown again.
    pub token: String,
}

impl std::fmt::Debug for PutCredentialRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutCredentialRequest { token: [redacted] }")
    }
}

/// What is known about the stored token; the token itself is never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    #[schema(example = "eyJh…Qk9w")]
    pub token_mask: String,
    /// `base`, `test`, `personal` or `service`.
    pub token_type: String,
    pub seller_id: String,
    /// WB API categories the token grants (`content`, `analytics`, ...).
    pub categories: Vec<String>,
    pub read_only: bool,
    pub test: bool,
    pub expires_at: DateTime<Utc>,
    /// Whole days until expiry (negative once expired).
    pub days_left: i64,
    /// `invalid` once WB refused it (syncing stops until it is replaced).
    pub status: CredentialStatus,
    pub last_verified_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    /// Things worth fixing that did not stop the token being saved: `write_access`,
    /// `expires_soon`, `token_type_not_accepted` (a token stored before this type was
    /// refused: it keeps working until replaced, see `token_guidance`).
    pub warnings: Vec<String>,
    /// With `token_type_not_accepted`: which token to create instead, and how.
    pub token_guidance: Option<String>,
    /// What this token lets the sync read, by its categories and WB's rules for its type
    /// (and whether our requests carry the service secret, which lifts base tokens).
    pub capabilities: Vec<Capability>,
}

impl CredentialView {
    fn new(c: CredentialInfo, policy: &TokenPolicy, with_secret: bool) -> Self {
        let mut warnings = Vec::new();
        if !c.read_only {
            warnings.push("write_access".to_string());
        }
        let token_type = TokenType::from_name(&c.token_type);
        let mut token_guidance = None;
        if token_type.is_some_and(|t| !policy.accepts_type(t)) {
            warnings.push("token_type_not_accepted".to_string());
            token_guidance = Some(policy.guidance());
        }
        let categories: Vec<Category> = c
            .categories
            .iter()
            .filter_map(|n| Category::from_name(n))
            .collect();
        let capabilities = token_type
            .map(|t| capabilities(t, &categories, with_secret))
            .unwrap_or_default();
        let days_left = (c.expires_at - Utc::now()).num_days();
        if days_left < 14 {
            warnings.push("expires_soon".to_string());
        }
        Self {
            token_mask: c.token_mask,
            token_type: c.token_type,
            seller_id: c.seller_id,
            categories: c.categories,
            read_only: c.read_only,
            test: c.test_token,
            expires_at: c.expires_at,
            days_left,
            status: c.status,
            last_verified_at: c.last_verified_at,
            last_error_code: c.last_error_code,
            last_error: c.last_error,
            warnings,
            token_guidance,
            capabilities,
        }
    }
}

#[utoipa::path(
    put, path = "/api/v1/wb/credentials", tag = "wildberries",
    security(("bearer" = [])),
    request_body = PutCredentialRequest,
    responses(
        (status = 200, description = "Token checked with WB and stored encrypted", body = CredentialView),
        (status = 402, description = "The subscription is read-only (`subscription_inactive`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins manage the token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "On the free trial, and the token's seller account has had its trial in another tenant (`seller_trial_used`): subscribe to connect it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unusable token: `token_not_jwt`, `token_expired`, `token_test_not_allowed`, `token_type_not_accepted` (a personal token: WB forbids giving those to cloud services; the message says which token to create and how), `token_for_other_service` (a service token created for another service), `token_missing_categories` (with `missing`), `token_rejected` (WB said 401)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "WB could not confirm the token right now (`wb_unavailable`), or syncing is paused on our side (`wb_service_unpaid`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_credentials(
    State(state): State<AppState>,
    manager: Active<Manager>,
    JsonBody(body): JsonBody<PutCredentialRequest>,
) -> ApiResult<Json<CredentialView>> {
    let auth = manager.auth;
    let raw = Secret::new(body.token.trim().to_string());
    let facts = token::decode(raw.expose()).map_err(|_| {
        ApiError::invalid(
            "token_not_jwt",
            "token",
            "This is not a WB API token: expected a JWT from the seller portal.",
        )
    })?;
    if facts.is_expired(Utc::now()) {
        return Err(ApiError::invalid(
            "token_expired",
            "token",
            format!(
                "This token expired on {}; create a new one.",
                facts.expires_at.date_naive()
            ),
        ));
    }
    let is_test = facts.test || facts.token_type == TokenType::Test;
    if is_test && !state.config.wb.sandbox {
        return Err(ApiError::invalid(
            "token_test_not_allowed",
            "token",
            "This is a test-environment token; use a production token.",
        ));
    }
    let policy = &state.config.token_policy;
    if let Err(refusal) = policy.check(&facts) {
        return Err(ApiError::invalid(
            refusal.code(),
            "token",
            refusal.message(policy),
        ));
    }
    let missing: Vec<&str> = facts
        .missing_categories()
        .iter()
        .map(|c| c.name())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::invalid(
            "token_missing_categories",
            "token",
            format!("The token lacks the categories: {}.", missing.join(", ")),
        )
        .with_extension("missing", json!(missing)));
    }

    state.wb.session(raw.clone()).ping(Host::Content).await?;

    let id = CredentialId::new();
    let sealed = state.vault.seal(auth.tenant, id, &raw);
    let mask = credentials::mask(raw.expose());
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    if !trials::may_connect(&mut tx, &manager.subscription, &facts.seller_id).await? {
        return Err(ApiError::conflict(
            "seller_trial_used",
            "This Wildberries seller account has already had its free trial in another Stock \
             Tracker account. Subscribe to a plan to connect it here.",
        )
        .with_field("token"));
    }
    let saved = credentials::save(
        &mut tx,
        NewCredential {
            id,
            sealed: &sealed,
            mask: &mask,
            facts: &facts,
            verified_at: Utc::now(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %auth.tenant, token_type = facts.token_type.name(), "WB token saved");
    Ok(Json(view(&state, saved)))
}

#[utoipa::path(
    get, path = "/api/v1/wb/credentials", tag = "wildberries",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored token's mask and facts", body = CredentialView),
        (status = 404, description = "No token stored", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_credentials(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<CredentialView>> {
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let info = credentials::info(&mut tx)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    tx.commit().await?;
    Ok(Json(view(&state, info)))
}

#[utoipa::path(
    delete, path = "/api/v1/wb/credentials", tag = "wildberries",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Token removed; syncing stops"),
        (status = 403, description = "Only owners and admins manage the token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No token stored", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_credentials(
    State(state): State<AppState>,
    manager: Manager,
) -> ApiResult<StatusCode> {
    let auth = manager.auth;
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    if !credentials::delete(&mut tx).await? {
        return Err(ApiError::not_found("credential"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn view(state: &AppState, info: CredentialInfo) -> CredentialView {
    CredentialView::new(info, &state.config.token_policy, state.wb.has_secret())
}
