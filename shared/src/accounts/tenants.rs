use crate::billing::Plan;
use crate::ids::TenantId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// How often the tenant wants scheduled syncs; None means as often as the plan allows.
    pub sync_interval_minutes: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The plan whose limits apply now.
    #[sqlx(try_from = "String")]
    pub plan: PlanName,
}

/// Decodes a plan column (sqlx's `try_from` needs a type of ours).
#[derive(Clone, Copy, Debug)]
pub struct PlanName(pub Plan);

impl TryFrom<String> for PlanName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(PlanName)
    }
}

impl Tenant {
    /// The interval the scheduler uses: the tenant's preference, but never more often than
    /// the plan allows.
    pub fn effective_sync_interval_minutes(&self) -> i32 {
        let floor = self.plan.0.limits().sync_interval_minutes;
        self.sync_interval_minutes.unwrap_or(floor).max(floor)
    }
}

/// Each query's tenant row joined to its plan (`t` is the tenants row set).
const WITH_PLAN: &str = "select t.*,
        coalesce(subscription_plan(s.plan, s.downgrade_from, s.downgrade_at, now()), 'pro') as plan
   from t left join subscriptions s on s.tenant_id = t.id";

pub async fn insert(tx: &mut Tx, id: TenantId, name: &str) -> sqlx::Result<Tenant> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with t as (insert into tenants (id, name) values ($1, $2) returning *) {WITH_PLAN}"
    )))
    .bind(id)
    .bind(name)
    .fetch_one(&mut **tx)
    .await
}

/// The scope's own tenant (RLS shows no other).
pub async fn current(tx: &mut Tx) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with t as (select * from tenants) {WITH_PLAN}"
    )))
    .fetch_optional(&mut **tx)
    .await
}

/// Changes the given settings, leaving the others as they are.
pub async fn update(
    tx: &mut Tx,
    name: Option<&str>,
    sync_interval_minutes: Option<i32>,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with t as (update tenants set name = coalesce($1, name),
                sync_interval_minutes = coalesce($2, sync_interval_minutes), updated_at = now()
         returning *) {WITH_PLAN}"
    )))
    .bind(name)
    .bind(sync_interval_minutes)
    .fetch_optional(&mut **tx)
    .await
}
