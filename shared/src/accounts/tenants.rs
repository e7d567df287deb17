use crate::ids::TenantId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// How often the scheduler syncs this tenant (until billing plans set it).
    pub sync_interval_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, id: TenantId, name: &str) -> sqlx::Result<Tenant> {
    sqlx::query_as("insert into tenants (id, name) values ($1, $2) returning *")
        .bind(id)
        .bind(name)
        .fetch_one(&mut **tx)
        .await
}

/// The scope's own tenant (RLS shows no other).
pub async fn current(tx: &mut Tx) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("select * from tenants")
        .fetch_optional(&mut **tx)
        .await
}

/// Changes the given settings, leaving the others as they are.
pub async fn update(
    tx: &mut Tx,
    name: Option<&str>,
    sync_interval_minutes: Option<i32>,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(
        "update tenants set name = coalesce($1, name),
                sync_interval_minutes = coalesce($2, sync_interval_minutes), updated_at = now()
         returning *",
    )
    .bind(name)
    .bind(sync_interval_minutes)
    .fetch_optional(&mut **tx)
    .await
}
