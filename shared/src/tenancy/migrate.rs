//! Schema migrations, run as the tables' owner by `stock-tracker-api migrate`.

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Applies pending migrations as the owner, then grants the application role what it needs
/// and nothing more: row access (still filtered by RLS), never ownership.
pub async fn run(owner_url: &str, app_role: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !app_role.is_empty()
            && app_role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "application role name must be lowercase letters, digits and _"
    );
    let mut conn = PgConnection::connect(owner_url).await?;
    MIGRATOR.run(&mut conn).await?;
    // The job queue's own schema (apalis), with its own migration history table.
    apalis_postgres::PostgresStorage::migrations()
        .run(&mut conn)
        .await?;
    // Really dynamic: a role is an identifier, which cannot be a bound parameter; the name
    // is checked above to be a plain lowercase identifier.
    let grants = format!(
        "grant usage on schema public, apalis to {app_role};
         grant select, insert, update, delete on all tables in schema public, apalis to {app_role};
         grant usage, select on all sequences in schema public, apalis to {app_role};
         grant execute on all functions in schema public, apalis to {app_role};
         revoke insert, update, delete on _sqlx_migrations, apalis._sqlx_migrations from {app_role};"
    );
    sqlx::raw_sql(AssertSqlSafe(grants))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Migrations the code knows about but the database has not applied successfully.
pub async fn pending(pool: &PgPool) -> sqlx::Result<Vec<i64>> {
    let applied = sqlx::query_scalar!("select version from _sqlx_migrations where success")
        .fetch_all(pool)
        .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect())
}
