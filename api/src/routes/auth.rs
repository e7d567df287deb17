//! `/api/v1/auth`: register, login, refresh, logout, accept-invitation.

use crate::auth::Person;
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
use stock_tracker_shared::ids::{TenantId, UserId};
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
    /// The `device_token` an earlier sign-in on this device returned: failed attempts made
    /// elsewhere then never slow this device down.
    pub device_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// An invitation is bound to its email. If that email has no account yet, the invitee
/// chooses a password here; if it has one, the invitee signs in first and accepts with their
/// own bearer token (a password is never checked here, so an invitation cannot be used to
/// guess one).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    /// The one-time token returned when the invitation was created.
    pub token: String,
    /// The new account's password (8 to 128 characters); only when the email has no account.
    #[schema(value_type = Option<String>, min_length = 8, max_length = 128)]
    pub password: Option<Password>,
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
    /// Returned when a password was checked (sign-up and sign-in): keep it on this device
    /// and send it with later sign-ins, so that someone else guessing the password never
    /// slows this device down. Valid a year, for this email only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
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
    let mut response = start_session(&state, &mut tx, user, tenant, Role::Owner, None).await?;
    response.device_token = Some(state.devices.issue(email.as_str())?);
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
    let device = (body.device_token.as_deref()).and_then(|t| state.devices.verify(t, &email));
    let subjects = state.throttle.subjects(&email, ip, device);
    // Counted as a failure before the password is checked, refunded on success.
    if let Some(wait) = state.throttle.reserve(&subjects).await {
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
        return Err(invalid_credentials());
    };
    state.throttle.succeeded(&subjects).await;

    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
    let tenant = tenants::current(&mut tx)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("member of a missing tenant")))?;
    let mut response = start_session(&state, &mut tx, user, tenant, role, None).await?;
    response.device_token = Some(state.devices.issue(&email)?);
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
    security((), ("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined the tenant; signed in to it", body = TokenResponse),
        (status = 401, description = "The email already has an account: sign in as it and send its bearer token (`sign_in_required`); or the bearer token is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Signed in as another email than the invitation's (`invitation_email_mismatch`), or with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, used, revoked or expired invitation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`already_member`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, or the new account's password is missing, too short or too long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    signed_in: Option<Person>,
    JsonBody(body): JsonBody<AcceptInvitationRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let token = body.token.trim();
    let tenant_id =
        opaque::tenant_of(INVITATION, token).ok_or_else(|| ApiError::not_found("invitation"))?;
    // Any refusal below rolls back, leaving the invitation usable by its rightful invitee.
    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant_id)).await?;
    let invitation = invitations::accept(&mut tx, &opaque::digest(token))
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;

    tenancy::rescope(
        &mut tx,
        Scope::tenant(tenant_id).with_login(&invitation.email),
    )
    .await?;
    let existing = users::by_email(&mut tx, &invitation.email).await?;
    let user = match (existing, signed_in) {
        (Some(existing), Some(person)) if person.user == existing.id => existing,
        (_, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "invitation_email_mismatch",
                "This invitation is for another email address than the account signed in.",
            ));
        }
        (Some(_), None) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "This email already has an account: sign in to it, then accept the \
                 invitation with that session's bearer token.",
            ));
        }
        (None, None) => {
            let password = body
                .password
                .ok_or_else(|| {
                    ApiError::invalid(
                        "missing_field",
                        "password",
                        "A password for the new account is required.",
                    )
                })
                .and_then(|p| NewPassword::parse(p).map_err(|e| ApiError::field("password", e)))?;
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

/// Issues an access token and a refresh token (continuing `family` on refresh). The refresh
/// token lives `REFRESH_TOKEN_TTL_SECS` unused, but never past the family's absolute end.
async fn start_session(
    state: &AppState,
    tx: &mut Tx,
    user: users::User,
    tenant: tenants::Tenant,
    role: Role,
    family: Option<sessions::Family>,
) -> ApiResult<TokenResponse> {
    let refresh = opaque::generate(REFRESH, tenant.id);
    let family = family.unwrap_or_else(sessions::Family::start);
    let now = chrono::Utc::now();
    let expires_at = (now + state.config.refresh_token_ttl)
        .min(family.started_at + state.config.refresh_family_max_age);
    sessions::insert(
        tx,
        sessions::NewSession {
            tenant: tenant.id,
            user: user.id,
            family,
            token_hash: &refresh.hash,
            expires_at,
        },
    )
    .await?;
    let ttl = (expires_at - now).to_std().unwrap_or_default();
    Ok(TokenResponse {
        access_token: state.access.issue(user.id, tenant.id)?,
        token_type: "Bearer",
        expires_in: state.access.ttl().as_secs(),
        refresh_token: refresh.token,
        refresh_expires_in: ttl.as_secs(),
        user: user.into(),
        tenant: tenant.into(),
        role: role.into(),
        device_token: None,
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
