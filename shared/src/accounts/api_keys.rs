//! API keys: sellers' own systems (ERP, spreadsheets) calling the API without a person
//! signing in. Rows are tenant-scoped; the key itself is never stored.

use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum KeyScope {
    /// GET requests only.
    Read,
    /// Also starts syncs and other member-level writes.
    ReadWrite,
}

/// A key as its owners see it: never the key itself.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    #[schema(value_type = uuid::Uuid)]
    pub id: ApiKeyId,
    pub name: String,
    pub scope: KeyScope,
    /// The key's last four characters, to tell keys apart.
    pub hint: String,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub struct NewKey<'a> {
    pub tenant: TenantId,
    pub name: &'a str,
    pub scope: KeyScope,
    pub key_hash: &'a [u8],
    pub hint: &'a str,
    pub created_by: UserId,
}

pub async fn insert(tx: &mut Tx, key: NewKey<'_>) -> sqlx::Result<ApiKey> {
    sqlx::query_as!(
        ApiKey,
        r#"insert into api_keys (id, tenant_id, name, scope, key_hash, hint, created_by)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id as "id: ApiKeyId", name, scope as "scope: KeyScope", hint,
                     created_by as "created_by: UserId", created_at, last_used_at"#,
        ApiKeyId::new() as ApiKeyId,
        key.tenant as TenantId,
        key.name,
        key.scope as KeyScope,
        key.key_hash,
        key.hint,
        key.created_by as UserId,
    )
    .fetch_one(&mut **tx)
    .await
}

/// The tenant's keys that still work, oldest first.
pub async fn list(tx: &mut Tx) -> sqlx::Result<Vec<ApiKey>> {
    sqlx::query_as!(
        ApiKey,
        r#"select id as "id: ApiKeyId", name, scope as "scope: KeyScope", hint,
                  created_by as "created_by: UserId", created_at, last_used_at
             from api_keys where revoked_at is null order by created_at, id"#
    )
    .fetch_all(&mut **tx)
    .await
}

/// Revokes a key; false if the tenant has no such working key.
pub async fn revoke(tx: &mut Tx, id: ApiKeyId) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update api_keys set revoked_at = now() where id = $1 and revoked_at is null",
        id as ApiKeyId
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every working key `creator` made in the scope's tenant; how many.
pub async fn revoke_created_by(tx: &mut Tx, creator: UserId) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update api_keys set revoked_at = now()
          where created_by = $1 and tenant_id = app_current_tenant() and revoked_at is null",
        creator as UserId
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// The working key with this digest, and notes its use (at most once a minute, so a busy
/// integration does not write on every call).
pub async fn authenticate(
    tx: &mut Tx,
    key_hash: &[u8],
) -> sqlx::Result<Option<(ApiKeyId, KeyScope)>> {
    let found = sqlx::query!(
        r#"select id as "id: ApiKeyId", scope as "scope: KeyScope" from api_keys
            where key_hash = $1 and revoked_at is null"#,
        key_hash
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    sqlx::query!(
        "update api_keys set last_used_at = now()
          where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        found.id as ApiKeyId
    )
    .execute(&mut **tx)
    .await?;
    Ok(Some((found.id, found.scope)))
}
