use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use stock_tracker_shared::accounts::{Role, memberships};
use stock_tracker_shared::ids::{TenantId, UserId};
use stock_tracker_shared::tenancy::{self, Scope};

/// A signed-in member of a tenant. The role comes from the membership (through a short-lived
/// cache that removal clears), not from the token, so removing a member takes effect at
/// once, not when the token expires.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub user: UserId,
    pub tenant: TenantId,
    pub role: Role,
}

impl Auth {
    pub fn scope(&self) -> Scope {
        Scope::tenant(self.tenant)
    }

    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden("Viewers cannot change data."))
        }
    }

    pub fn require_manage(&self) -> Result<(), ApiError> {
        if self.role.can_manage() {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only owners and admins can do this."))
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("A bearer access token is required."))?;
        let claims = state
            .access
            .verify(token.trim())
            .ok_or_else(|| ApiError::unauthorized("The access token is invalid or expired."))?;
        let role = match state.roles.get(claims.tid, claims.sub).await {
            Some(role) => role,
            None => {
                let mut tx = tenancy::begin(&state.db, Scope::tenant(claims.tid)).await?;
                let role = memberships::role_of(&mut tx, claims.sub)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized("This account is no longer a member."))?;
                tx.commit().await?;
                state.roles.put(claims.tid, claims.sub, role).await;
                role
            }
        };
        Ok(Auth {
            user: claims.sub,
            tenant: claims.tid,
            role,
        })
    }
}
