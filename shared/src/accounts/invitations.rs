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

/// Marks a live invitation accepted and returns it; `None` if unknown, used or expired.
/// Single use is guaranteed by the conditional update, even under concurrent accepts.
pub async fn accept(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as!(
        Invitation,
        r#"update invitations set accepted_at = now()
            where token_hash = $1 and accepted_at is null and expires_at > now()
            returning id as "id: InvitationId", email, role as "role: Role", expires_at"#,
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await
}
