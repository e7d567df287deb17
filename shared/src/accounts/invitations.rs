use super::Role;
use crate::ids::{InvitationId, UserId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// A pending invitation as managers see it: never its token or the token's hash.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub struct NewInvitation<'a> {
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a [u8],
    pub invited_by: UserId,
    pub expires_at: DateTime<Utc>,
}

/// Inserts into the scope's tenant.
pub async fn insert(tx: &mut Tx, inv: NewInvitation<'_>) -> sqlx::Result<Invitation> {
    sqlx::query_as!(
        Invitation,
        r#"insert into invitations (id, tenant_id, email, role, token_hash, invited_by, expires_at)
           values ($1, app_current_tenant(), $2, $3, $4, $5, $6)
           returning id as "id: InvitationId", email, role as "role: Role", expires_at"#,
        InvitationId::new() as InvitationId,
        inv.email,
        inv.role as Role,
        inv.token_hash,
        inv.invited_by as UserId,
        inv.expires_at,
    )
    .fetch_one(&mut **tx)
    .await
}

/// Marks a live invitation accepted and returns it; `None` if unknown, used, revoked or
/// expired.
/// Single use is guaranteed by the conditional update, even under concurrent accepts.
pub async fn accept(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as!(
        Invitation,
        r#"update invitations set accepted_at = now()
            where token_hash = $1 and accepted_at is null and revoked_at is null
              and expires_at > now()
            returning id as "id: InvitationId", email, role as "role: Role", expires_at"#,
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await
}

/// One page of the scope's pending invitations (not accepted, revoked or expired), oldest
/// first, after the given (created_at, id) key.
pub async fn pending(
    tx: &mut Tx,
    after: Option<(DateTime<Utc>, InvitationId)>,
    limit: u32,
) -> sqlx::Result<Vec<Pending>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        Pending,
        r#"select id as "id: InvitationId", email, role as "role: Role",
                  invited_by as "invited_by: UserId", created_at, expires_at
             from invitations
            where tenant_id = app_current_tenant()
              and accepted_at is null and revoked_at is null and expires_at > now()
              and ($1::timestamptz is null or (created_at, id) > ($1, $2))
            order by created_at, id
            limit $3"#,
        after_at,
        after_id as Option<InvitationId>,
        i64::from(limit),
    )
    .fetch_all(&mut **tx)
    .await
}

/// Revokes a pending invitation, so its token is refused; false if the scope's tenant has
/// no such pending invitation.
pub async fn revoke(tx: &mut Tx, id: InvitationId) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update invitations set revoked_at = now()
          where id = $1 and tenant_id = app_current_tenant()
            and accepted_at is null and revoked_at is null and expires_at > now()",
        id as InvitationId
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every pending invitation `inviter` sent in the scope's tenant; how many.
pub async fn revoke_sent_by(tx: &mut Tx, inviter: UserId) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update invitations set revoked_at = now()
          where invited_by = $1 and tenant_id = app_current_tenant()
            and accepted_at is null and revoked_at is null and expires_at > now()",
        inviter as UserId
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
