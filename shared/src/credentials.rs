//! The tenant's stored WB token: sealed by the vault, with its decoded facts beside it.

use crate::ids::{CredentialId, TenantId};
use crate::tenancy::Tx;
use crate::vault::Sealed;
use chrono::{DateTime, Utc};
use serde::Serialize;
use stock_tracker_wb::token::TokenFacts;

/// Whether syncs may use the token: `invalid` once WB refused it (until it is replaced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    Invalid,
}

/// What may be shown about a credential: never the token, only a mask and its facts.
#[derive(Clone, Debug, Serialize)]
pub struct CredentialInfo {
    pub id: CredentialId,
    pub token_mask: String,
    pub seller_id: String,
    pub token_type: String,
    pub categories: Vec<String>,
    pub read_only: bool,
    pub test_token: bool,
    pub expires_at: DateTime<Utc>,
    pub status: CredentialStatus,
    pub last_verified_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

struct SealedRow {
    id: CredentialId,
    tenant_id: TenantId,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    status: CredentialStatus,
}

impl SealedRow {
    fn sealed(self) -> Sealed {
        Sealed {
            key_id: self.key_id,
            nonce: self.nonce,
            ciphertext: self.ciphertext,
        }
    }
}

/// A credential the sync can use.
pub struct StoredCredential {
    pub id: CredentialId,
    pub sealed: Sealed,
    pub status: CredentialStatus,
}

/// Shows the first and last four characters: enough to tell tokens apart, useless to
/// anyone who sees it.
pub fn mask(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 12 {
        return "…".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

pub struct NewCredential<'a> {
    pub id: CredentialId,
    pub sealed: &'a Sealed,
    pub mask: &'a str,
    pub facts: &'a TokenFacts,
    pub verified_at: DateTime<Utc>,
}

/// Stores (or replaces) the scope tenant's token. Replacing resets the status to active.
pub async fn save(tx: &mut Tx, c: NewCredential<'_>) -> sqlx::Result<CredentialInfo> {
    let categories: Vec<&str> = c.facts.categories.iter().map(|c| c.name()).collect();
    sqlx::query_as!(
        CredentialInfo,
        r#"insert into wb_credentials (id, tenant_id, key_id, nonce, ciphertext, token_mask,
               seller_id, token_type, categories, read_only, test_token, expires_at, status,
               last_verified_at)
           values ($1, app_current_tenant(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12)
           on conflict (tenant_id) do update set
               id = excluded.id, key_id = excluded.key_id, nonce = excluded.nonce,
               ciphertext = excluded.ciphertext, token_mask = excluded.token_mask,
               seller_id = excluded.seller_id, token_type = excluded.token_type,
               categories = excluded.categories, read_only = excluded.read_only,
               test_token = excluded.test_token, expires_at = excluded.expires_at,
               status = 'active', last_verified_at = excluded.last_verified_at,
               last_error_code = null, last_error = null, updated_at = now()
           returning id as "id: CredentialId", token_mask, seller_id, token_type, categories, read_only, test_token,
                     expires_at, status as "status: CredentialStatus", last_verified_at,
                     last_error_code, last_error, created_at, updated_at"#,
        c.id as CredentialId,
        c.sealed.key_id,
        c.sealed.nonce,
        c.sealed.ciphertext,
        c.mask,
        c.facts.seller_id,
        c.facts.token_type.name(),
        &categories as &[&str],
        c.facts.read_only,
        c.facts.test,
        c.facts.expires_at,
        c.verified_at,
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn info(tx: &mut Tx) -> sqlx::Result<Option<CredentialInfo>> {
    sqlx::query_as!(
        CredentialInfo,
        r#"select id as "id: CredentialId", token_mask, seller_id, token_type, categories, read_only, test_token,
                  expires_at, status as "status: CredentialStatus", last_verified_at,
                  last_error_code, last_error, created_at, updated_at
             from wb_credentials"#
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn sealed(tx: &mut Tx) -> sqlx::Result<Option<StoredCredential>> {
    let row = sqlx::query_as!(
        SealedRow,
        r#"select id as "id: CredentialId", tenant_id as "tenant_id: TenantId", key_id, nonce, ciphertext,
                  status as "status: CredentialStatus"
             from wb_credentials"#
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| StoredCredential {
        id: r.id,
        status: r.status,
        sealed: r.sealed(),
    }))
}

/// WB refused the token (401): stop syncing until it is replaced.
pub async fn mark_invalid(
    tx: &mut Tx,
    id: CredentialId,
    code: &str,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update wb_credentials set status = 'invalid', last_error_code = $2, last_error = $3,
                updated_at = now()
          where id = $1",
        id as CredentialId,
        code,
        message,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn mark_verified(tx: &mut Tx, id: CredentialId) -> sqlx::Result<()> {
    sqlx::query!(
        "update wb_credentials set last_verified_at = now(), last_error_code = null,
                last_error = null
          where id = $1 and status = 'active'",
        id as CredentialId
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx) -> sqlx::Result<bool> {
    let done = sqlx::query!("delete from wb_credentials")
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// For key rotation, which runs as the owner across tenants: rows not yet under `key_id`,
/// in id order after `after` (keyset paging, so rows that cannot be moved are passed, not
/// read again).
pub async fn sealed_under_other_keys(
    conn: &mut sqlx::PgConnection,
    key_id: &str,
    after: Option<CredentialId>,
    limit: i64,
) -> sqlx::Result<Vec<(CredentialId, TenantId, Sealed)>> {
    let rows = sqlx::query_as!(
        SealedRow,
        r#"select id as "id: CredentialId", tenant_id as "tenant_id: TenantId", key_id, nonce, ciphertext,
                  status as "status: CredentialStatus"
             from wb_credentials
            where key_id <> $1 and ($2::uuid is null or id > $2)
            order by id limit $3"#,
        key_id,
        after as Option<CredentialId>,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.tenant_id, r.sealed()))
        .collect())
}

/// Replaces one row's ciphertext if it still holds the one that was read (rotation is
/// safe against a seller replacing their token at the same moment).
pub async fn reseal(
    conn: &mut sqlx::PgConnection,
    id: CredentialId,
    old: &Sealed,
    new: &Sealed,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update wb_credentials set key_id = $2, nonce = $3, ciphertext = $4
          where id = $1 and key_id = $5 and nonce = $6",
        id as CredentialId,
        new.key_id,
        new.nonce,
        new.ciphertext,
        old.key_id,
        old.nonce,
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_shows_only_the_ends() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0.c2lnbmF0dXJlX19YWVo";
        let m = super::mask(token);
        assert_eq!(m, "eyJh…YWVo");
        assert_eq!(super::mask("short"), "…");
    }
}
