//! Response bodies shared by several resources.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stock_tracker_shared::accounts::Role;
use stock_tracker_shared::accounts::tenants::Tenant;
use stock_tracker_shared::accounts::users::User;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            email: u.email,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    /// How often the tenant asked to be synced, in minutes (null: as often as the plan allows).
    pub sync_interval_minutes: Option<i32>,
    /// How often the scheduler syncs it: the preference, floored at the plan's interval.
    pub effective_sync_interval_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            effective_sync_interval_minutes: t.effective_sync_interval_minutes,
            id: t.id.0,
            name: t.name,
            sync_interval_minutes: t.sync_interval_minutes,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// The schema twin of [`Role`] (the domain type stays free of OpenAPI concerns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleView {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => RoleView::Owner,
            Role::Admin => RoleView::Admin,
            Role::Member => RoleView::Member,
            Role::Viewer => RoleView::Viewer,
        }
    }
}

impl From<RoleView> for Role {
    fn from(r: RoleView) -> Self {
        match r {
            RoleView::Owner => Role::Owner,
            RoleView::Admin => Role::Admin,
            RoleView::Member => Role::Member,
            RoleView::Viewer => Role::Viewer,
        }
    }
}
