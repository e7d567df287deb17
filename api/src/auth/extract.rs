use crate::auth::{opaque, role_cache};
use crate::error::ApiError;
use crate::http::quota::QuotaSlot;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use stock_tracker_shared::accounts::Role;
use stock_tracker_shared::accounts::api_keys::{self, KeyScope};
use stock_tracker_shared::billing::{Access, TenantSubscription, subscriptions};
use stock_tracker_shared::ids::{ApiKeyId, TenantId, UserId};
use stock_tracker_shared::tenancy::{self, Scope};

/// Who is calling: a person signed in, or one of the tenant's API keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    ApiKey(ApiKeyId),
}

/// An authenticated caller acting for a tenant. For a person, the role comes from the
/// membership (through a short-lived, signed, versioned cache that removal overrides; see
/// [`role_cache`]), not from the token, so
/// removing a member takes effect at once. An API key acts as a viewer (read scope) or a
/// member (read_write scope), never as an admin: keys cannot manage the team, billing,
/// credentials or other keys.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub principal: Principal,
    pub tenant: TenantId,
    pub role: Role,
}

impl Auth {
    pub fn scope(&self) -> Scope {
        Scope::tenant(self.tenant)
    }

    /// The signed-in person; API keys are refused.
    pub fn user(&self) -> Result<UserId, ApiError> {
        match self.principal {
            Principal::User(user) => Ok(user),
            Principal::ApiKey(_) => Err(ApiError::forbidden(
                "API keys cannot do this; sign in as a member of the team.",
            )),
        }
    }
}

/// A person signed in as themselves (API keys are refused with 403).
#[derive(Clone, Copy, Debug)]
pub struct Person {
    pub auth: Auth,
    pub user: UserId,
}

/// A caller who may change data: owners, admins, members and read-write keys.
#[derive(Clone, Copy, Debug)]
pub struct Writer(pub Auth);

/// An owner or admin, signed in as themselves (keys are never managers).
#[derive(Clone, Copy, Debug)]
pub struct Manager {
    pub auth: Auth,
    pub user: UserId,
}

/// A [`Writer`] or [`Manager`] whose subscription allows changes: an ended or unpaid plan
/// keeps its data readable, but writes answer 402 `subscription_inactive`. Carries the
/// subscription, so a handler needing its limits does not read it again.
pub struct Active<R> {
    pub caller: R,
    pub subscription: TenantSubscription,
}

/// What every permission extractor knows: the caller.
pub trait Caller {
    fn auth(&self) -> &Auth;
}

macro_rules! caller {
    ($($t:ty => |$s:ident| $e:expr),* $(,)?) => {$(
        impl Caller for $t {
            fn auth(&self) -> &Auth {
                let $s = self;
                $e
            }
        }

        impl std::ops::Deref for $t {
            type Target = Auth;
            fn deref(&self) -> &Auth {
                self.auth()
            }
        }
    )*};
}

caller!(
    Person => |s| &s.auth,
    Writer => |s| &s.0,
    Manager => |s| &s.auth,
);

impl<R: Caller> std::ops::Deref for Active<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.caller
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = Auth::from_request_parts(parts, state).await?;
        Ok(Person {
            user: auth.user()?,
            auth,
        })
    }
}

/// `Option<Person>`: a person when the request carries an `Authorization` header, `None`
/// without one. A header that is present but invalid is still refused (401), never ignored.
impl OptionalFromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(None);
        }
        <Person as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = Auth::from_request_parts(parts, state).await?;
        if !auth.role.can_write() {
            return Err(ApiError::forbidden(
                "Viewers and read-only keys cannot change data.",
            ));
        }
        Ok(Writer(auth))
    }
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = Auth::from_request_parts(parts, state).await?;
        if !auth.role.can_manage() {
            return Err(ApiError::forbidden("Only owners and admins can do this."));
        }
        Ok(Manager {
            user: auth.user()?,
            auth,
        })
    }
}

impl<R> FromRequestParts<AppState> for Active<R>
where
    R: Caller + FromRequestParts<AppState, Rejection = ApiError> + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = R::from_request_parts(parts, state).await?;
        let mut tx = tenancy::begin(&state.db, caller.auth().scope()).await?;
        let subscription = subscriptions::current(&mut tx).await?;
        tx.commit().await?;
        if subscription.access == Access::ReadOnly {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "subscription_inactive",
                "The subscription has ended or is unpaid: data stays readable, but changes \
                 and syncs need an active plan (see /api/v1/billing).",
            ));
        }
        Ok(Active {
            caller,
            subscription,
        })
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = authenticate(parts, state).await?;
        tracing::Span::current().record("tenant_id", tracing::field::display(auth.tenant));
        Ok(auth)
    }
}

/// Who the bearer token or API key names, with the role they act in now.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .ok_or_else(|| ApiError::unauthorized("A bearer access token is required."))?;
    if token
        .strip_prefix(opaque::API_KEY)
        .is_some_and(|rest| rest.starts_with('_'))
    {
        return api_key(parts, state, &token).await;
    }
    let claims = state
        .access
        .verify(&token)
        .ok_or_else(|| ApiError::unauthorized("The access token is invalid or expired."))?;
    let role = role_of(state, claims.tid, claims.sub).await?;
    Ok(Auth {
        principal: Principal::User(claims.sub),
        tenant: claims.tid,
        role,
    })
}

/// A member's role: from this process's layer, else Redis, else PostgreSQL (each keeps
/// what it found in the layers before it). The process layer makes the role check of a
/// repeated caller free of round trips.
async fn role_of(state: &AppState, tenant: TenantId, user: UserId) -> Result<Role, ApiError> {
    let ticket = state.process_cache.ticket(tenant);
    if let Some(role) = ticket.and_then(|t| state.process_cache.role(t, tenant, user)) {
        return Ok(role);
    }
    let (role, left) = match state.roles.get(tenant, user).await {
        Some(found) => found,
        None => {
            let read = role_cache::read(&state.db, tenant, user)
                .await?
                .ok_or_else(|| ApiError::unauthorized("This account is no longer a member."))?;
            state.roles.put(tenant, user, read).await;
            (read.role.role, role_cache::TTL)
        }
    };
    if let Some(t) = ticket {
        state.process_cache.keep_role(t, tenant, user, role, left);
    }
    Ok(role)
}

/// An API key: looked up inside the tenant it names, then counted against the tenant's
/// monthly API-call quota (what the quota middleware reports in the response headers).
async fn api_key(parts: &Parts, state: &AppState, key: &str) -> Result<Auth, ApiError> {
    let invalid = || ApiError::unauthorized("The API key is invalid or revoked.");
    let tenant = opaque::tenant_of(opaque::API_KEY, key).ok_or_else(invalid)?;
    let mut tx = tenancy::begin(&state.db, Scope::tenant(tenant)).await?;
    let (id, scope) = api_keys::authenticate(&mut tx, &opaque::digest(key))
        .await?
        .ok_or_else(invalid)?;
    let subscription = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    let quota = state
        .usage
        .count_call(
            &state.db,
            tenant,
            subscription.period(),
            subscription.limits().api_calls_per_period,
        )
        .await
        .map_err(ApiError::internal)?;
    if let Some(slot) = parts.extensions.get::<QuotaSlot>() {
        slot.set(quota);
    }
    if quota.exceeded() {
        let wait = (quota.resets_at - chrono::Utc::now())
            .num_seconds()
            .max(1)
            .unsigned_abs();
        return Err(ApiError::too_many_requests(
            "quota_exceeded",
            wait,
            format!(
                "The plan's {} API calls for this billing period are used up; the count \
                 starts again at {}.",
                quota.limit,
                quota.resets_at.to_rfc3339()
            ),
        )
        .with_extension("limit", quota.limit.into())
        .with_extension("remaining", 0.into())
        .with_extension("reset", quota.resets_at.to_rfc3339().into()));
    }
    Ok(Auth {
        principal: Principal::ApiKey(id),
        tenant,
        role: match scope {
            KeyScope::Read => Role::Viewer,
            KeyScope::ReadWrite => Role::Member,
        },
    })
}
