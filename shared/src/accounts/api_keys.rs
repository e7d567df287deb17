//! API keys: sellers' own systems (ERP, spreadsheets) calling the API without a person
//! signing in. Rows are tenant-scoped; the key itself is never stored.

use crate::ids::{TenantId, UserId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// GET requests only.
    Read,
    /// Also starts syncs and other member-level writes.
    ReadWrite,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::ReadWrite => "read_write",
        }
    }

    fn parse(s: &str) -> sqlx::Result<Self> {
        match s {
            "read" => Ok(KeyScope::Read),
            "read_write" => Ok(KeyScope::ReadWrite),
            other => Err(sqlx::Error::Decode(
                format!("unknown key scope {other:?}").into(),
            )),
        }
    }
}

/// A key as its owners see it: never the key itself.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub scope: KeyScope,
    /// The key's last four characters, to tell keys apart.
    pub hint: String,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    scope: String,
    hint: String,
    created_by: Option<UserId>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for ApiKey {
    type Error = sqlx::Error;

    fn try_from(r: Row) -> sqlx::Result<Self> {
        Ok(ApiKey {
            id: r.id,
            name: r.name,
            scope: KeyScope::parse(&r.scope)?,
            hint: r.hint,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

const COLUMNS: &str = "id, name, scope, hint, created_by, created_at, last_used_at";

pub struct NewKey<'a> {
    pub tenant: TenantId,
    pub name: &'a str,
    pub scope: KeyScope,
    pub key_hash: &'a [u8],
    pub hint: &'a str,
    pub created_by: UserId,
}

pub async fn insert(tx: &mut Tx, key: NewKey<'_>) -> sqlx::Result<ApiKey> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into api_keys (id, tenant_id, name, scope, key_hash, hint, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(key.tenant)
    .bind(key.name)
    .bind(key.scope.as_str())
    .bind(key.key_hash)
    .bind(key.hint)
    .bind(key.created_by)
    .fetch_one(&mut **tx)
    .await?;
    row.try_into()
}

/// The tenant's keys that still work, oldest first.
pub async fn list(tx: &mut Tx) -> sqlx::Result<Vec<ApiKey>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_keys where revoked_at is null order by created_at, id"
    )))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Revokes a key; false if the tenant has no such working key.
pub async fn revoke(tx: &mut Tx, id: Uuid) -> sqlx::Result<bool> {
    let done =
        sqlx::query("update api_keys set revoked_at = now() where id = $1 and revoked_at is null")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The working key with this digest, and notes its use (at most once a minute, so a busy
/// integration does not write on every call).
pub async fn authenticate(tx: &mut Tx, key_hash: &[u8]) -> sqlx::Result<Option<(Uuid, KeyScope)>> {
    let found: Option<(Uuid, String)> =
        sqlx::query_as("select id, scope from api_keys where key_hash = $1 and revoked_at is null")
            .bind(key_hash)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((id, scope)) = found else {
        return Ok(None);
    };
    sqlx::query(
        "update api_keys set last_used_at = now()
          where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(Some((id, KeyScope::parse(&scope)?)))
}
