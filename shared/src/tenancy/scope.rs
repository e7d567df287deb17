use crate::ids::{TenantId, UserId};
use sqlx::{PgPool, Postgres, Transaction};

pub type Tx = Transaction<'static, Postgres>;

/// Who a transaction acts for. RLS policies read these as `app.*` settings; anything left
/// unset matches no row.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    tenant: Option<TenantId>,
    user: Option<UserId>,
    login_email: Option<String>,
}

impl Scope {
    /// Rows of one tenant: the scope of every API and job handler.
    pub fn tenant(tenant: TenantId) -> Self {
        Self {
            tenant: Some(tenant),
            ..Self::default()
        }
    }

    /// A signed-in user's own rows across tenants (their user row and memberships).
    pub fn user(user: UserId) -> Self {
        Self {
            user: Some(user),
            ..Self::default()
        }
    }

    /// Only the user row with this email: what a login needs before it knows who is asking.
    pub fn login(email: &str) -> Self {
        Self {
            login_email: Some(email.to_string()),
            ..Self::default()
        }
    }

    pub fn with_user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    pub fn with_login(mut self, email: &str) -> Self {
        self.login_email = Some(email.to_string());
        self
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant
    }
}

/// Opens a transaction and sets its scope before any query runs.
pub async fn begin(pool: &PgPool, scope: Scope) -> sqlx::Result<Tx> {
    let mut tx = pool.begin().await?;
    rescope(&mut tx, scope).await?;
    Ok(tx)
}

/// Replaces the scope of an open transaction, for the few flows that learn who they act
/// for half-way (accepting an invitation finds the email inside the tenant's scope).
pub async fn rescope(tx: &mut Tx, scope: Scope) -> sqlx::Result<()> {
    sqlx::query!(
        "select set_config('app.tenant_id', $1, true) as tenant,
                set_config('app.user_id', $2, true) as user,
                set_config('app.login_email', $3, true) as login_email",
        scope.tenant.map(|t| t.to_string()).unwrap_or_default(),
        scope.user.map(|u| u.to_string()).unwrap_or_default(),
        scope.login_email.unwrap_or_default(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}
