//! Refresh-token sessions. Tokens are opaque and stored as SHA-256 digests; each use
//! rotates the token, and a second use of the same token revokes its whole family (it means
//! the token leaked and two parties hold it).

use crate::ids::{SessionFamilyId, TenantId, UserId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

/// A sign-in's chain of refresh tokens: its id and when the sign-in happened, which bounds
/// how long the chain may be renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    pub id: SessionFamilyId,
    pub started_at: DateTime<Utc>,
}

impl Family {
    /// A new sign-in, now.
    pub fn start() -> Self {
        Self {
            id: SessionFamilyId::default(),
            started_at: Utc::now(),
        }
    }
}

pub struct NewSession<'a> {
    pub tenant: TenantId,
    pub user: UserId,
    pub family: Family,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, s: NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into refresh_tokens
                (id, tenant_id, user_id, family_id, family_started_at, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
        uuid::Uuid::now_v7(),
        s.tenant as TenantId,
        s.user as UserId,
        s.family.id as SessionFamilyId,
        s.family.started_at,
        s.token_hash,
        s.expires_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The token was live; it is now used and the caller issues its successor.
    Valid { user: UserId, family: Family },
    /// Already used: the family has just been revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

struct StoredToken {
    user_id: UserId,
    family_id: SessionFamilyId,
    family_started_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Marks a refresh token used, or revokes its family if it was used before.
pub async fn redeem(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Redeemed> {
    let row = sqlx::query_as!(
        StoredToken,
        r#"select user_id as "user_id: UserId", family_id as "family_id: SessionFamilyId",
                  family_started_at, expires_at, used_at, revoked_at
             from refresh_tokens where token_hash = $1 for update"#,
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(Redeemed::Invalid);
    };
    if row.revoked_at.is_some() || row.expires_at <= Utc::now() {
        return Ok(Redeemed::Invalid);
    }
    if row.used_at.is_some() {
        revoke_family(tx, row.family_id).await?;
        return Ok(Redeemed::Reused);
    }
    sqlx::query!(
        "update refresh_tokens set used_at = now() where token_hash = $1",
        token_hash
    )
    .execute(&mut **tx)
    .await?;
    Ok(Redeemed::Valid {
        user: row.user_id,
        family: Family {
            id: row.family_id,
            started_at: row.family_started_at,
        },
    })
}

pub async fn revoke_family(tx: &mut Tx, family: SessionFamilyId) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null",
        family as SessionFamilyId
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// The family of a token, used by logout.
pub async fn family_of(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<SessionFamilyId>> {
    sqlx::query_scalar!(
        r#"select family_id as "family_id: SessionFamilyId" from refresh_tokens
            where token_hash = $1"#,
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await
}
