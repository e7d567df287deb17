use super::Role;
use crate::ids::{TenantId, UserId};
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// One membership per (tenant, user): inserting a second violates this.
pub const PKEY: &str = "memberships_pkey";

pub async fn insert(tx: &mut Tx, tenant: TenantId, user: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into memberships (tenant_id, user_id, role) values ($1, $2, $3)",
        tenant as TenantId,
        user as UserId,
        role as Role,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A member's role with the version of their membership row (a new one, from one growing
/// sequence, on every insert and update): what the role cache stores it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionedRole {
    pub role: Role,
    pub version: i64,
}

/// The user's role in the scope's tenant and its version, if they are still a member.
pub async fn versioned_role_of(tx: &mut Tx, user: UserId) -> sqlx::Result<Option<VersionedRole>> {
    sqlx::query_as!(
        VersionedRole,
        r#"select role as "role: Role", version from memberships
            where user_id = $1 and tenant_id = app_current_tenant()"#,
        user as UserId
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The user's role in the scope's tenant, locked until the transaction ends, so a removal
/// (or a role change) waits for it, and it waits for one in progress: what a member creates
/// on the strength of their role (an invitation, an API key) is committed before their
/// removal revokes what they created, or not at all.
pub async fn hold_role(tx: &mut Tx, user: UserId) -> sqlx::Result<Option<Role>> {
    sqlx::query_scalar!(
        r#"select role as "role: Role" from memberships
            where user_id = $1 and tenant_id = app_current_tenant()
              for share"#,
        user as UserId
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The user's role in the scope's tenant, if they are still a member.
pub async fn role_of(tx: &mut Tx, user: UserId) -> sqlx::Result<Option<Role>> {
    sqlx::query_scalar!(
        r#"select role as "role: Role" from memberships
            where user_id = $1 and tenant_id = app_current_tenant()"#,
        user as UserId
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The tenants a user belongs to, oldest first. Needs a `Scope::user` transaction.
pub async fn tenants_of(tx: &mut Tx, user: UserId) -> sqlx::Result<Vec<(TenantId, Role)>> {
    let rows = sqlx::query!(
        r#"select tenant_id as "tenant_id: TenantId", role as "role: Role" from memberships
            where user_id = $1 order by created_at, tenant_id"#,
        user as UserId
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.role)).collect())
}

/// One page of the scope's members in join order, after the given (joined_at, user) key.
pub async fn page(
    tx: &mut Tx,
    after: Option<(DateTime<Utc>, UserId)>,
    limit: u32,
) -> sqlx::Result<Vec<Member>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        Member,
        r#"select m.user_id as "user_id: UserId", u.email, m.role as "role: Role",
                  m.created_at as joined_at
             from memberships m join users u on u.id = m.user_id
            where m.tenant_id = app_current_tenant()
              and ($1::timestamptz is null or (m.created_at, m.user_id) > ($1, $2))
            order by m.created_at, m.user_id
            limit $3"#,
        after_at,
        after_id as Option<UserId>,
        i64::from(limit),
    )
    .fetch_all(&mut **tx)
    .await
}

/// The scope's owners, locked until the transaction ends (in one order, so two removals
/// cannot deadlock): a concurrent removal of an owner waits, then counts what is left.
pub async fn lock_owners(tx: &mut Tx) -> sqlx::Result<Vec<UserId>> {
    sqlx::query_scalar!(
        r#"select user_id as "user_id: UserId" from memberships
            where role = 'owner' and tenant_id = app_current_tenant()
            order by user_id
              for update"#
    )
    .fetch_all(&mut **tx)
    .await
}

/// Removes a member (their refresh tokens go with them by cascade). `None` if none
/// matched; else a membership version newer than any the removed row ever had, for the
/// role cache's tombstone.
pub async fn delete(tx: &mut Tx, user: UserId) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        r#"delete from memberships where user_id = $1 and tenant_id = app_current_tenant()
           returning nextval('membership_versions') as "version!""#,
        user as UserId
    )
    .fetch_optional(&mut **tx)
    .await
}
