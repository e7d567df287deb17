use crate::billing::Plan;
use crate::ids::TenantId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// How often the tenant wants scheduled syncs; None means as often as the plan allows.
    pub sync_interval_minutes: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The plan whose limits apply now.
    pub plan: Plan,
    /// The interval the scheduler uses: the preference, never more often than the plan
    /// allows (SQL `tenant_sync_interval`, the scheduler's own rule).
    pub effective_sync_interval_minutes: i32,
}

// Each query returns the tenant row joined to the plan whose limits apply now and the
// interval the scheduler uses (the last parameter holds [`Plan::intervals_json`]). Inside a
// data-modifying CTE the subscription row the insert's trigger creates is not visible yet,
// hence the trial plan as the fallback. Columns read from a CTE carry no NOT NULL of their
// own, so the `!` overrides restate the table's.

pub async fn insert(tx: &mut Tx, id: TenantId, name: &str) -> sqlx::Result<Tenant> {
    sqlx::query_as!(
        Tenant,
        r#"with t as (insert into tenants (id, name) values ($1, $2)
                      returning id, name, sync_interval_minutes, created_at, updated_at)
           select t.id as "id!: TenantId", t.name as "name!", t.sync_interval_minutes,
                  t.created_at as "created_at!", t.updated_at as "updated_at!",
                  p.plan as "plan!: Plan",
                  tenant_sync_interval(t.sync_interval_minutes, p.plan, $3::jsonb)
                      as "effective_sync_interval_minutes!"
             from t left join subscriptions s on s.tenant_id = t.id
            cross join lateral (select coalesce(subscription_plan(s.plan, s.downgrade_from,
                                                                  s.downgrade_at, now()), 'pro')
                                           as plan) p"#,
        id as TenantId,
        name,
        Plan::intervals_json(),
    )
    .fetch_one(&mut **tx)
    .await
}

/// The scope's own tenant (RLS shows no other).
pub async fn current(tx: &mut Tx) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as!(
        Tenant,
        r#"select t.id as "id: TenantId", t.name, t.sync_interval_minutes, t.created_at,
                  t.updated_at, p.plan as "plan!: Plan",
                  tenant_sync_interval(t.sync_interval_minutes, p.plan, $1::jsonb)
                      as "effective_sync_interval_minutes!"
             from tenants t left join subscriptions s on s.tenant_id = t.id
            cross join lateral (select coalesce(subscription_plan(s.plan, s.downgrade_from,
                                                                  s.downgrade_at, now()), 'pro')
                                           as plan) p"#,
        Plan::intervals_json(),
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Changes the given settings, leaving the others as they are.
pub async fn update(
    tx: &mut Tx,
    name: Option<&str>,
    sync_interval_minutes: Option<i32>,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as!(
        Tenant,
        r#"with t as (update tenants set name = coalesce($1, name),
                             sync_interval_minutes = coalesce($2, sync_interval_minutes),
                             updated_at = now()
                      returning id, name, sync_interval_minutes, created_at, updated_at)
           select t.id as "id!: TenantId", t.name as "name!", t.sync_interval_minutes,
                  t.created_at as "created_at!", t.updated_at as "updated_at!",
                  p.plan as "plan!: Plan",
                  tenant_sync_interval(t.sync_interval_minutes, p.plan, $3::jsonb)
                      as "effective_sync_interval_minutes!"
             from t left join subscriptions s on s.tenant_id = t.id
            cross join lateral (select coalesce(subscription_plan(s.plan, s.downgrade_from,
                                                                  s.downgrade_at, now()), 'pro')
                                           as plan) p"#,
        name,
        sync_interval_minutes,
        Plan::intervals_json(),
    )
    .fetch_optional(&mut **tx)
    .await
}
