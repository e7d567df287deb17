use crate::ids::UserId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

// The hash stays out of Debug output so a logged user never carries it.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

pub const EMAIL_KEY: &str = "users_email_key";

/// Inserts a user; fails with a unique violation on [`EMAIL_KEY`] when the email is taken.
/// The scope must carry this user's id.
pub async fn insert(
    tx: &mut Tx,
    id: UserId,
    email: &str,
    password_hash: &str,
) -> sqlx::Result<User> {
    sqlx::query_as!(
        User,
        r#"insert into users (id, email, password_hash) values ($1, $2, $3)
           returning id as "id: UserId", email, password_hash, created_at"#,
        id as UserId,
        email,
        password_hash,
    )
    .fetch_one(&mut **tx)
    .await
}

/// Needs a `Scope::login(email)` transaction.
pub async fn by_email(tx: &mut Tx, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"select id as "id: UserId", email, password_hash, created_at
             from users where lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn by_id(tx: &mut Tx, id: UserId) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"select id as "id: UserId", email, password_hash, created_at
             from users where id = $1"#,
        id as UserId
    )
    .fetch_optional(&mut **tx)
    .await
}
