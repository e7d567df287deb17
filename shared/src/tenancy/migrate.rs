//! Schema migrations, run as the tables' owner by `stock-tracker-api migrate`.

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The `SECURITY DEFINER` functions the api calls. They run as the owner, across tenants,
/// so each is granted to the role whose code calls it and to no other.
pub const API_DEFINER_FUNCTIONS: &[&str] = &[
    // Stripe webhooks: which tenant a customer id belongs to.
    "billing_tenant_for_customer(text)",
    // Connecting a WB token on the free trial: one trial per seller account.
    "claim_seller_trial(text)",
];

/// The `SECURITY DEFINER` functions the worker and the scheduler call: cross-tenant
/// maintenance that the internet-facing api must not be able to run.
pub const JOBS_DEFINER_FUNCTIONS: &[&str] = &[
    // scheduler
    "queue_due_syncs(timestamptz, integer, jsonb)",
    "count_active_tenants(timestamptz)",
    // worker: retention, token warnings, billing reconciliation
    "purge_old_data(timestamptz, integer, integer)",
    // worker: statistics after a sync that wrote many rows (issue 13)
    "analyze_synced_tables()",
    // worker: stock history partitions ahead of time (retention job)
    "create_stock_history_partitions(timestamptz, integer)",
    "record_token_expiry_warnings(timestamptz)",
    "billing_linked_tenants()",
];

/// The two login roles the binaries connect as. Neither owns the tables, is superuser or
/// bypasses row-level security; they differ only in which cross-tenant functions they may
/// call.
#[derive(Clone, Debug)]
pub struct Roles {
    /// What the api connects as (its `DATABASE_URL`).
    pub api: String,
    /// What the worker and the scheduler connect as (`DATABASE_JOBS_ROLE`).
    pub jobs: String,
}

impl Roles {
    /// Both names checked to be plain lowercase identifiers (they are spliced into SQL: a
    /// role is an identifier, which cannot be a bound parameter) and different (the api's
    /// role would otherwise get the maintenance functions).
    pub fn new(api: &str, jobs: &str) -> anyhow::Result<Self> {
        for (name, what) in [(api, "api"), (jobs, "jobs")] {
            anyhow::ensure!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "the {what} role name must be lowercase letters, digits and _"
            );
        }
        anyhow::ensure!(
            api != jobs,
            "the api and the jobs must connect as different roles (both are {api})"
        );
        Ok(Self {
            api: api.to_string(),
            jobs: jobs.to_string(),
        })
    }

    /// What [`run`] grants after migrating: row access for both roles (still filtered by
    /// RLS), never ownership; functions that run with the caller's rights for both;
    /// `SECURITY DEFINER` functions for nobody (PUBLIC included), then each listed one for
    /// its caller. Re-running it takes back anything granted before.
    ///
    /// Partitions (of `stock_history`, ...) are reached through their parent only: the
    /// parent's row-level security does not apply to a partition read directly, so the
    /// roles get nothing on them (rows routed through the parent need no privilege on the
    /// partition). Partitions the maintenance job creates later start with no grant.
    pub fn grants(&self) -> String {
        let Self { api, jobs } = self;
        let api_functions = API_DEFINER_FUNCTIONS.join(", ");
        let jobs_functions = JOBS_DEFINER_FUNCTIONS.join(", ");
        format!(
            "grant usage on schema public, apalis to {api}, {jobs};
             grant select, insert, update, delete on all tables in schema public, apalis to {api}, {jobs};
             grant usage, select on all sequences in schema public, apalis to {api}, {jobs};
             revoke insert, update, delete on _sqlx_migrations, apalis._sqlx_migrations from {api}, {jobs};
             grant execute on all functions in schema public, apalis to {api}, {jobs};
             do $$
             declare f regprocedure;
             begin
               for f in select p.oid::regprocedure from pg_proc p
                          join pg_namespace n on n.oid = p.pronamespace
                         where n.nspname in ('public', 'apalis') and p.prosecdef
               loop
                 execute format('revoke all on routine %s from public, {api}, {jobs}', f);
               end loop;
             end $$;
             grant execute on function {api_functions} to {api};
             grant execute on function {jobs_functions} to {jobs};
             do $$
             declare t regclass;
             begin
               for t in select c.oid::regclass from pg_class c
                          join pg_namespace n on n.oid = c.relnamespace
                         where n.nspname = 'public' and c.relispartition
                           and c.relkind in ('r', 'p')
               loop
                 execute format('revoke all on table %s from {api}, {jobs}', t);
               end loop;
             end $$;"
        )
    }
}

/// Applies pending migrations as the owner, then grants the roles what they need and
/// nothing more ([`Roles::grants`]), in one transaction.
pub async fn run(owner_url: &str, roles: &Roles) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(owner_url).await?;
    for role in [&roles.api, &roles.jobs] {
        let exists: bool = sqlx::query_scalar!(
            r#"select exists(select 1 from pg_roles where rolname = $1) as "e!""#,
            role
        )
        .fetch_one(&mut conn)
        .await?;
        anyhow::ensure!(
            exists,
            "database role {role} does not exist; create it first (scripts/ops/postgres-init.sh)"
        );
    }
    MIGRATOR.run(&mut conn).await?;
    // The job queue's own schema (apalis), with its own migration history table.
    apalis_postgres::PostgresStorage::migrations()
        .run(&mut conn)
        .await?;
    let grants = format!("begin; {} commit;", roles.grants());
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

#[cfg(test)]
mod tests {
    use super::Roles;

    #[test]
    fn role_names_are_plain_identifiers_and_differ() {
        assert!(Roles::new("stock_tracker_app", "stock_tracker_jobs").is_ok());
        assert!(Roles::new("stock_tracker_app", "stock_tracker_app").is_err());
        assert!(Roles::new("app; drop table x", "jobs").is_err());
        assert!(Roles::new("app", "").is_err());
    }
}
