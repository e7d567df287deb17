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

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: UserId,
    email: String,
    role: String,
    joined_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for Member {
    type Error = sqlx::Error;
    fn try_from(r: MemberRow) -> sqlx::Result<Self> {
        Ok(Member {
            user_id: r.user_id,
            email: r.email,
            role: r
                .role
                .parse()
                .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
            joined_at: r.joined_at,
        })
    }
}

/// One membership per (tenant, user): inserting a second violates this.
pub const PKEY: &str = "memberships_pkey";

pub async fn insert(tx: &mut Tx, tenant: TenantId, user: UserId, role: Role) -> sqlx::Result<()> {
    sqlx::query("insert into memberships (tenant_id, user_id, role) values ($1, $2, $3)")
        .bind(tenant)
        .bind(user)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The user's role in the scope's tenant, if they are still a member.
pub async fn role_of(tx: &mut Tx, user: UserId) -> sqlx::Result<Option<Role>> {
    let role: Option<String> = sqlx::query_scalar(
        "select role from memberships where user_id = $1 and tenant_id = app_current_tenant()",
    )
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    role.map(|r| r.parse().map_err(|e: String| sqlx::Error::Decode(e.into())))
        .transpose()
}

/// The tenants a user belongs to, oldest first. Needs a `Scope::user` transaction.
pub async fn tenants_of(tx: &mut Tx, user: UserId) -> sqlx::Result<Vec<(TenantId, Role)>> {
    let rows: Vec<(TenantId, String)> = sqlx::query_as(
        "select tenant_id, role from memberships where user_id = $1 order by created_at, tenant_id",
    )
    .bind(user)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(t, r)| {
            Ok((
                t,
                r.parse()
                    .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
            ))
        })
        .collect()
}

/// One page of the scope's members in join order, after the given (joined_at, user) key.
pub async fn page(
    tx: &mut Tx,
    after: Option<(DateTime<Utc>, UserId)>,
    limit: u32,
) -> sqlx::Result<Vec<Member>> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<MemberRow> = sqlx::query_as(
        "select m.user_id, u.email, m.role, m.created_at as joined_at
           from memberships m join users u on u.id = m.user_id
          where m.tenant_id = app_current_tenant()
            and ($1::timestamptz is null or (m.created_at, m.user_id) > ($1, $2))
          order by m.created_at, m.user_id
          limit $3",
    )
    .bind(after_at)
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(Member::try_from).collect()
}

pub async fn count_owners(tx: &mut Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from memberships where role = 'owner' and tenant_id = app_current_tenant()")
        .fetch_one(&mut **tx)
        .await
}

/// Removes a member (their refresh tokens go with them by cascade). False if none matched.
pub async fn delete(tx: &mut Tx, user: UserId) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "delete from memberships where user_id = $1 and tenant_id = app_current_tenant()",
    )
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
