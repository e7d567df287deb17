use crate::ids::TenantId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
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

pub async fn rename(tx: &mut Tx, name: &str) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("update tenants set name = $1, updated_at = now() returning *")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
}
