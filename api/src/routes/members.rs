//! `/api/v1/tenant/members` and `/api/v1/tenant/invitations`: the team.

use crate::auth::opaque::{self, INVITATION};
use crate::auth::{Active, Auth, Manager, Person};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::input::{JsonBody, PathParams, QueryParams};
use crate::http::pagination::{Page, PageQuery};
use crate::routes::RoleView;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stock_tracker_shared::accounts::{Email, Role, api_keys, invitations, memberships};
use stock_tracker_shared::ids::{InvitationId, UserId};
use stock_tracker_shared::tenancy;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleView,
    pub joined_at: DateTime<Utc>,
}

/// The roles an invitation can grant: ownership is never granted by invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitedRole {
    Admin,
    Member,
    Viewer,
}

impl From<InvitedRole> for Role {
    fn from(r: InvitedRole) -> Self {
        match r {
            InvitedRole::Admin => Role::Admin,
            InvitedRole::Member => Role::Member,
            InvitedRole::Viewer => Role::Viewer,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvitationRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Only owners may invite admins.
    pub role: InvitedRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    pub id: Uuid,
    pub email: String,
    pub role: RoleView,
    pub expires_at: DateTime<Utc>,
    /// Shown once. Give it to the invitee, who accepts with `POST /api/v1/auth/accept-invitation`.
    pub token: String,
}

#[utoipa::path(
    get, path = "/api/v1/tenant/members", tag = "tenant",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Members in the order they joined", body = Page<MemberView>),
        (status = 422, description = "Bad `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(page): QueryParams<PageQuery>,
) -> ApiResult<Json<Page<MemberView>>> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    let rows =
        memberships::page(&mut tx, after.map(|(at, id)| (at, UserId(id))), limit + 1).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |m| (m.joined_at, m.user_id.0),
        |m| MemberView {
            user_id: m.user_id.0,
            email: m.email,
            role: m.role.into(),
            joined_at: m.joined_at,
        },
    )))
}

/// What removing a member revoked with them.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRemoved {
    /// Their pending invitations, which can no longer be accepted.
    pub revoked_invitations: u64,
    /// The API keys they created, which stop working at once.
    pub revoked_api_keys: u64,
}

#[utoipa::path(
    delete, path = "/api/v1/tenant/members/{user_id}", tag = "tenant",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "Removed; their sessions end at once, and the pending invitations and API keys they created are revoked with them", body = MemberRemoved),
        (status = 401, description = "The caller is no longer a member", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins remove others; admins cannot remove owners", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be removed (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    person: Person,
    PathParams(target): PathParams<UserId>,
) -> ApiResult<Json<MemberRemoved>> {
    let auth = person.auth;
    let leaving = target == person.user;
    if !leaving && !auth.role.can_manage() {
        return Err(ApiError::forbidden("Only owners and admins can do this."));
    }
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    // Every removal locks the tenant's owners first, in one order, so two owners removing
    // each other cannot both count two owners (the second waits, then counts one), and no
    // two removals deadlock. Then the caller's own membership, so a caller removed a moment
    // ago cannot act on the role they had.
    let owners = memberships::lock_owners(&mut tx).await?;
    let acting = memberships::hold_role(&mut tx, person.user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account is no longer a member."))?;
    if !leaving && !acting.can_manage() {
        return Err(ApiError::forbidden("Only owners and admins can do this."));
    }
    let role = memberships::role_of(&mut tx, target)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if role == Role::Owner {
        if !leaving && acting != Role::Owner {
            return Err(ApiError::forbidden(
                "Only an owner can remove another owner.",
            ));
        }
        if owners.len() <= 1 {
            return Err(ApiError::conflict(
                "last_owner",
                "The tenant's last owner cannot be removed.",
            ));
        }
    }
    let version = memberships::delete(&mut tx, target)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    // A removed admin keeps no way back in: what they created on the strength of their
    // role goes with them, in the same transaction.
    let removed = MemberRemoved {
        revoked_invitations: invitations::revoke_sent_by(&mut tx, target).await?,
        revoked_api_keys: api_keys::revoke_created_by(&mut tx, target).await?,
    };
    tx.commit().await?;
    state.roles.forget(auth.tenant, target, version).await;
    // This process drops the role at once; the others when `forget`'s message reaches them.
    state.process_cache.invalidate(auth.tenant);
    Ok(Json(removed))
}

#[utoipa::path(
    post, path = "/api/v1/tenant/invitations", tag = "tenant",
    security(("bearer" = [])),
    request_body = InvitationRequest,
    responses(
        (status = 201, description = "Invitation created; the token is shown only now", body = InvitationCreated),
        (status = 402, description = "The subscription is read-only (`subscription_inactive`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins invite; only owners invite admins", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad email or role (owner cannot be invited)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_invitation(
    State(state): State<AppState>,
    manager: Active<Manager>,
    JsonBody(body): JsonBody<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationCreated>)> {
    let (auth, inviter) = (manager.auth, manager.user);
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    let role = Role::from(body.role);
    if role == Role::Admin && auth.role != Role::Owner {
        return Err(ApiError::forbidden("Only owners can invite admins."));
    }
    let secret = opaque::generate(INVITATION, auth.tenant);
    let mut tx = tenancy::begin(&state.db, auth.scope()).await?;
    hold_manager(&mut tx, inviter).await?;
    let invitation = invitations::insert(
        &mut tx,
        invitations::NewInvitation {
            email: email.as_str(),
            role,
            token_hash: &secret.hash,
            invited_by: inviter,
            expires_at: Utc::now() + state.config.invitation_ttl,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreated {
            id: invitation.id.0,
            email: invitation.email,
            role: invitation.role.into(),
            expires_at: invitation.expires_at,
            token: secret.token,
        }),
    ))
}

/// Checks, under a lock held until the transaction ends, that `user` is still an owner or
/// admin: what they create then (an invitation, an API key) is either committed before a
/// removal of theirs revokes what they created, or refused, never left behind.
pub(crate) async fn hold_manager(tx: &mut tenancy::Tx, user: UserId) -> ApiResult<Role> {
    let role = memberships::hold_role(tx, user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account is no longer a member."))?;
    if !role.can_manage() {
        return Err(ApiError::forbidden("Only owners and admins can do this."));
    }
    Ok(role)
}

/// A pending invitation: never its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: RoleView,
    /// The user id of the member who sent it.
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    get, path = "/api/v1/tenant/invitations", tag = "tenant",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Pending invitations (not accepted, revoked or expired), oldest first; never their tokens", body = Page<InvitationView>),
        (status = 403, description = "Only owners and admins, signed in, see invitations", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_invitations(
    State(state): State<AppState>,
    manager: Manager,
    QueryParams(page): QueryParams<PageQuery>,
) -> ApiResult<Json<Page<InvitationView>>> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let rows = invitations::pending(
        &mut tx,
        after.map(|(at, id)| (at, InvitationId(id))),
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |i| (i.created_at, i.id.0),
        |i| InvitationView {
            id: i.id.0,
            email: i.email,
            role: i.role.into(),
            invited_by: i.invited_by.0,
            created_at: i.created_at,
            expires_at: i.expires_at,
        },
    )))
}

#[utoipa::path(
    delete, path = "/api/v1/tenant/invitations/{id}", tag = "tenant",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked: its token can no longer be accepted"),
        (status = 403, description = "Only owners and admins, signed in, revoke invitations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such pending invitation in this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    manager: Manager,
    PathParams(id): PathParams<InvitationId>,
) -> ApiResult<StatusCode> {
    let mut tx = tenancy::begin(&state.db, manager.scope()).await?;
    let revoked = invitations::revoke(&mut tx, id).await?;
    tx.commit().await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("invitation"))
    }
}
