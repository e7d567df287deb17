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
    walks_indexes: bool,
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

    /// For a transaction that reads pages of a list: its plans walk the index of the page's
    /// order and stop at the limit, whatever the planner believes about the tables. Without
    /// statistics (a tenant's first sync, autovacuum off) PostgreSQL estimates a tenant's rows
    /// and a filter's selectivity so low that it scans and sorts the whole tenant, or joins
    /// from the wrong side, instead (seconds per page on 100,000 rows). Sequential scans and
    /// explicit sorts are priced out for this transaction only (they remain possible where
    /// nothing else can answer; bitmap scans stay, for the GIN index on barcodes), so the
    /// plan no longer depends on statistics. (A priced-out step that remains lifts the
    /// plan's cost past `jit_above_cost`: the pools' sessions have JIT off for that reason,
    /// see `pool::SessionLimits`.)
    pub fn walking_indexes(mut self) -> Self {
        self.walks_indexes = true;
        self
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant
    }
}

/// Opens a transaction and sets its scope before any query runs, in one round trip: the
/// `BEGIN` and the settings go to PostgreSQL as one simple-protocol message. Only values
/// that cannot carry quotes are spelled into that statement (ids are UUIDs, the planner
/// flag is fixed text); a scope with a login email, which is user input, sets it through a
/// bound parameter in a second round trip (sign-in and invitations only).
pub async fn begin(pool: &PgPool, scope: Scope) -> sqlx::Result<Tx> {
    if scope.login_email.is_some() {
        let mut tx = pool.begin().await?;
        rescope(&mut tx, scope).await?;
        return Ok(tx);
    }
    let planner = if scope.walks_indexes {
        ", set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)"
    } else {
        ""
    };
    let statement = format!(
        "begin; select set_config('app.tenant_id', '{}', true), \
         set_config('app.user_id', '{}', true), set_config('app.login_email', '', true){planner}",
        scope.tenant.map(|t| t.to_string()).unwrap_or_default(),
        scope.user.map(|u| u.to_string()).unwrap_or_default(),
    );
    pool.begin_with(sqlx::AssertSqlSafe(statement)).await
}

/// Ends a transaction that only read: it is dropped instead of committed, which saves the
/// request a round trip. sqlx queues the `ROLLBACK` on the connection, and the pool sends
/// it while taking the connection back, after the answer has gone. (A read-only
/// transaction's commit and rollback have the same effect.)
pub fn end_read(tx: Tx) {
    drop(tx);
}

/// Replaces the scope of an open transaction, for the few flows that learn who they act
/// for half-way (accepting an invitation finds the email inside the tenant's scope).
pub async fn rescope(tx: &mut Tx, scope: Scope) -> sqlx::Result<()> {
    // One round trip: the planner settings ride along with the scope.
    let planner = scope.walks_indexes.then_some("off");
    sqlx::query!(
        "select set_config('app.tenant_id', $1, true) as tenant,
                set_config('app.user_id', $2, true) as user,
                set_config('app.login_email', $3, true) as login_email,
                set_config('enable_seqscan', coalesce($4, current_setting('enable_seqscan')), true) as seqscan,
                set_config('enable_sort', coalesce($4, current_setting('enable_sort')), true) as sort",
        scope.tenant.map(|t| t.to_string()).unwrap_or_default(),
        scope.user.map(|u| u.to_string()).unwrap_or_default(),
        scope.login_email.unwrap_or_default(),
        planner,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}
