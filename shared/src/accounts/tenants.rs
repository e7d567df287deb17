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
    /// The interval the scheduler uses: the preference, never more often than the plan
    /// allows (SQL `tenant_sync_interval`, the scheduler's own rule).
    pub effective_sync_interval_minutes: i32,
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

/// Each query's tenant row joined to its plan and interval (`t` is the tenants row set;
/// `$intervals` is the bind parameter holding [`Plan::intervals_json`]).
fn with_plan(intervals: &str) -> String {
    format!(
        "select t.id, t.name, t.sync_interval_minutes, t.created_at, t.updated_at, p.plan,
                tenant_sync_interval(t.sync_interval_minutes, p.plan, {intervals}::jsonb)
                    as effective_sync_interval_minutes
           from t left join subscriptions s on s.tenant_id = t.id
          cross join lateral (select coalesce(subscription_plan(s.plan, s.downgrade_from,
                                                                s.downgrade_at, now()), 'pro')
                                         as plan) p"
    )
}

pub async fn insert(tx: &mut Tx, id: TenantId, name: &str) -> sqlx::Result<Tenant> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with t as (insert into tenants (id, name) values ($1, $2) returning *) {}",
        with_plan("$3")
    )))
    .bind(id)
    .bind(name)
    .bind(Plan::intervals_json())
    .fetch_one(&mut **tx)
    .await
}

/// The scope's own tenant (RLS shows no other).
pub async fn current(tx: &mut Tx) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with t as (select * from tenants) {}",
        with_plan("$1")
    )))
    .bind(Plan::intervals_json())
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
         returning *) {}",
        with_plan("$3")
    )))
    .bind(name)
    .bind(sync_interval_minutes)
    .bind(Plan::intervals_json())
    .fetch_optional(&mut **tx)
    .await
}
