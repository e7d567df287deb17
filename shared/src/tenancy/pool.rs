use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// A pool for the application role. Lazy, so a binary starts (and reports "not ready")
/// while PostgreSQL is down, and reconnects by itself when it is back.
pub fn connect_lazy(url: &str, max_connections: u32) -> sqlx::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.application_name("stock-tracker");
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

/// Why the application role would be unsafe to run as.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("database role {0} is a superuser; connect as the application role instead")]
    Superuser(String),
    #[error("database role {0} has BYPASSRLS; row-level security would not apply")]
    BypassRls(String),
    #[error(
        "database role {role} owns {tables} table(s); owners skip policies unless forced, connect as the application role"
    )]
    OwnsTables { role: String, tables: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Refuses to run as a role that could read across tenants.
pub async fn verify_app_role(pool: &PgPool) -> Result<(), RoleError> {
    let found = sqlx::query!(
        r#"select r.rolname::text as "role!", r.rolsuper as "superuser!",
                  r.rolbypassrls as "bypass!",
                  (select count(*) from pg_tables t
                    where t.schemaname = 'public' and t.tableowner = r.rolname) as "owned!"
             from pg_roles r where r.rolname = current_user"#
    )
    .fetch_one(pool)
    .await?;
    let (role, superuser, bypass, owned) = (found.role, found.superuser, found.bypass, found.owned);
    if superuser {
        return Err(RoleError::Superuser(role));
    }
    if bypass {
        return Err(RoleError::BypassRls(role));
    }
    if owned > 0 {
        return Err(RoleError::OwnsTables {
            role,
            tables: owned,
        });
    }
    Ok(())
}

/// The user name in a PostgreSQL URL: the role migrations grant table access to.
pub fn role_of(url: &str) -> sqlx::Result<String> {
    Ok(PgConnectOptions::from_str(url)?.get_username().to_string())
}
