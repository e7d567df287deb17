//! `/api/v1/auth`: register, login, refresh, logout, accept-invitation.

use crate::auth::opaque::{self, INVITATION, REFRESH};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::client_ip::ClientIp;
use crate::http::input::JsonBody;
use crate::routes::{RoleView, TenantView, UserView};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stock_tracker_shared::accounts::{
    CompanyName, Email, NewPassword, Password, Role, invitations, memberships, sessions, tenants,
    users,
};
use stock_tracker_shared::ids::{SessionFamilyId, TenantId, UserId};
use stock_tracker_shared::tenancy::{self, Scope, Tx};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "seller@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    pub password: Password,
    /// Shown to the team; no control, invisible or text-direction characters.
    #[schema(
        example = "ООО Ромашка",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*[^\s\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*$"
    )]
    pub company_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub password: Password,
    /// Which of the user's tenants to sign in to; the oldest membership when omitted.
    #[schema(
        value_type = Option<String>,
        format = Uuid,
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$"
    )]
    pub tenant_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    /// The one-time token returned when the invitation was created.
    pub token: String,
    /// A new password, or the existing one if this email already has an account.
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    pub password: Password,
}

/// A new session: a short-lived access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use: each refresh returns a new one. Reusing an old one ends the session.
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub user: UserView,
    pub tenant: TenantView,
    pub role: RoleView,
}

const BAD_CREDENTIALS: &str = "The email or password is incorrect.";

#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account and tenant created; signed in", body = TokenResponse),
        (status = 409, description = "Email already registered (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    let password = NewPassword::parse(body.password).map_err(|e| ApiError::field("password", e))?;
    let company =
        CompanyName::parse(&body.company_name).map_err(|e| ApiError::field("company_name", e))?;
    let hash = state.passwords.hash(password).await?;

    let (tenant_id, user_id) = (TenantId::new(), UserId::new());
    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id).with_user(user_id)).await?;
    let tenant = tenants::insert(&mut tx, tenant_id, company.as_str()).await?;
    let user = users::insert(&mut tx, user_id, email.as_str(), &hash)
        .await
        .map_err(ApiError::on_constraint(users::EMAIL_KEY, || {
            ApiError::conflict("email_taken", "An account with this email already exists.")
                .with_field("email")
        }))?;
    memberships::insert(&mut tx, tenant_id, user_id, Role::Owner).await?;
    let response = start_session(&state, &mut tx, user, tenant, Role::Owner, None).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, user_id = %user_id, "tenant registered");
    Ok((StatusCode::CREATED, Json(response)))
}

#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`), answered alike for unknown emails", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts: wait `Retry-After` seconds (`login_throttled`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let email = Email::normalise(&body.email);
    let subjects = state.throttle.subjects(&email, ip);
    if let Some(wait) = state.throttle.wait(&subjects).await {
        return Err(ApiError::too_many_requests(
            "login_throttled",
            wait,
            format!("Too many failed sign-in attempts; try again in {wait} s."),
        ));
    }

    let mut tx = tenancy::begin(&state.db, Scope::login(&email)).await?;
    let user = users::by_email(&mut tx, &email).await?;
    tx.commit().await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.passwords.verify(body.password, stored_hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        state.throttle.failed(&subjects).await;
        return Err(invalid_credentials());
    };

    let mut tx = tenancy::begin(&state.db, Scope::user(user.id)).await?;
    let member_of = memberships::tenants_of(&mut tx, user.id).await?;
    tx.commit().await?;
    let chosen = match body.tenant_id {
        Some(wanted) => member_of.into_iter().find(|(t, _)| t.0 == wanted),
        None => member_of.into_iter().next(),
    };
    let Some((tenant_id, role)) = chosen else {
        state.throttle.failed(&subjects).await;
        return Err(invalid_credentials());
    };
    state.throttle.succeeded(&subjects).await;

    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
    let tenant = tenants::current(&mut tx)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("member of a missing tenant")))?;
    let response = start_session(&state, &mut tx, user, tenant, role, None).await?;
    tx.commit().await?;
    Ok(Json(response))
}

#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token and a new refresh token", body = TokenResponse),
        (status = 401, description = "Unknown, expired or revoked token (`invalid_refresh_token`); a reused token also revokes its whole session (`refresh_token_reused`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let token = body.refresh_token.trim();
    let tenant_id = opaque::tenant_of(REFRESH, token).ok_or_else(invalid_refresh)?;
    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
    match sessions::redeem(&mut tx, &opaque::digest(token)).await? {
        sessions::Redeemed::Valid { user, family } => {
            let role = memberships::role_of(&mut tx, user)
                .await?
                .ok_or_else(invalid_refresh)?;
            let tenant = tenants::current(&mut tx)
                .await?
                .ok_or_else(invalid_refresh)?;
            let user = users::by_id(&mut tx, user)
                .await?
                .ok_or_else(invalid_refresh)?;
            let response = start_session(&state, &mut tx, user, tenant, role, Some(family)).await?;
            tx.commit().await?;
            Ok(Json(response))
        }
        sessions::Redeemed::Reused => {
            // The revocation must stick even though the request fails.
            tx.commit().await?;
            tracing::warn!(tenant_id = %tenant_id, "refresh token reused; session family revoked");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "This refresh token was already used; the session has been ended. Sign in again.",
            ))
        }
        sessions::Redeemed::Invalid => Err(invalid_refresh()),
    }
}

#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session is ended (also when it already was)"),
        (status = 422, description = "A field is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let token = body.refresh_token.trim();
    if let Some(tenant_id) = opaque::tenant_of(REFRESH, token) {
        let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
        if let Some(family) = sessions::family_of(&mut tx, &opaque::digest(token)).await? {
            sessions::revoke_family(&mut tx, family).await?;
        }
        tx.commit().await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/auth/accept-invitation", tag = "auth",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined the tenant; signed in to it", body = TokenResponse),
        (status = 401, description = "The email has an account and the password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, used or expired invitation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`already_member`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or the password is too short or long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AcceptInvitationRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let token = body.token.trim();
    let tenant_id =
        opaque::tenant_of(INVITATION, token).ok_or_else(|| ApiError::not_found("invitation"))?;
    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
    let invitation = invitations::accept(&mut tx, &opaque::digest(token))
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;

    tenancy::rescope(
        &mut tx,
        Scope::tenant(tenant_id).with_login(&invitation.email),
    )
    .await?;
    let user = match users::by_email(&mut tx, &invitation.email).await? {
        Some(existing) => {
            let ok = state
                .passwords
                .verify(body.password, Some(existing.password_hash.clone()))
                .await?;
            if !ok {
                return Err(invalid_credentials());
            }
            existing
        }
        None => {
            let password =
                NewPassword::parse(body.password).map_err(|e| ApiError::field("password", e))?;
            let hash = state.passwords.hash(password).await?;
            let id = UserId::new();
            tenancy::rescope(&mut tx, Scope::tenant(tenant_id).with_user(id)).await?;
            users::insert(&mut tx, id, &invitation.email, &hash).await?
        }
    };
    tenancy::rescope(&mut tx, Scope::tenant(tenant_id).with_user(user.id)).await?;
    memberships::insert(&mut tx, tenant_id, user.id, invitation.role)
        .await
        .map_err(ApiError::on_constraint(memberships::PKEY, || {
            ApiError::conflict(
                "already_member",
                "This account is already a member of the tenant.",
            )
        }))?;
    let tenant = tenants::current(&mut tx)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    let response = start_session(&state, &mut tx, user, tenant, invitation.role, None).await?;
    tx.commit().await?;
    Ok(Json(response))
}

/// Issues an access token and a refresh token (continuing `family` on refresh).
async fn start_session(
    state: &AppState,
    tx: &mut Tx,
    user: users::User,
    tenant: tenants::Tenant,
    role: Role,
    family: Option<SessionFamilyId>,
) -> ApiResult<TokenResponse> {
    let refresh = opaque::generate(REFRESH, tenant.id);
    let ttl = state.config.refresh_token_ttl;
    sessions::insert(
        tx,
        sessions::NewSession {
            tenant: tenant.id,
            user: user.id,
            family: family.unwrap_or_default(),
            token_hash: &refresh.hash,
            expires_at: chrono::Utc::now() + ttl,
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token: state.access.issue(user.id, tenant.id)?,
        token_type: "Bearer",
        expires_in: state.access.ttl().as_secs(),
        refresh_token: refresh.token,
        refresh_expires_in: ttl.as_secs(),
        user: user.into(),
        tenant: tenant.into(),
        role: role.into(),
    })
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        BAD_CREDENTIALS,
    )
}

fn invalid_refresh() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
        "The refresh token is invalid, expired or revoked.",
    )
}
