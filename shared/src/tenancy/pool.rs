use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Limits every session of a pool gets, so that no request or job holds a connection or a
/// lock for long: a statement that runs away, a lock that is not coming, or a transaction left
/// open while its task waits on something else all end with an error instead of starving the
/// pool (and every other tenant) of connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    pub statement: Duration,
    pub lock: Duration,
    pub idle_in_transaction: Duration,
}

impl SessionLimits {
    /// For the api: answers are due within the request timeout, and no request waits on a
    /// row lock for more than a few seconds.
    pub const API: Self = Self {
        statement: Duration::from_secs(15),
        lock: Duration::from_secs(5),
        idle_in_transaction: Duration::from_secs(15),
    };

    /// For the worker and scheduler: bulk writes of a large tenant's sync and the retention
    /// purge's batches take longer than any api statement.
    pub const BACKGROUND: Self = Self {
        statement: Duration::from_secs(120),
        lock: Duration::from_secs(30),
        idle_in_transaction: Duration::from_secs(60),
    };

    /// `defaults`, with `DATABASE_STATEMENT_TIMEOUT_MS`, `DATABASE_LOCK_TIMEOUT_MS` and
    /// `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS` where set.
    pub fn from_env(
        env: &crate::config::Env,
        defaults: Self,
    ) -> Result<Self, crate::config::ConfigError> {
        let millis = |name: &'static str,
                      default: Duration|
         -> Result<Duration, crate::config::ConfigError> {
            let ms: u64 =
                env.parse_or(name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX))?;
            if ms == 0 {
                return Err(crate::config::ConfigError::malformed(
                    name,
                    "must be at least 1 ms (0 would mean no limit)",
                ));
            }
            Ok(Duration::from_millis(ms))
        };
        Ok(Self {
            statement: millis("DATABASE_STATEMENT_TIMEOUT_MS", defaults.statement)?,
            lock: millis("DATABASE_LOCK_TIMEOUT_MS", defaults.lock)?,
            idle_in_transaction: millis(
                "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                defaults.idle_in_transaction,
            )?,
        })
    }

    /// The same settings as `PGOPTIONS` (`-c name=value …`), for tools that should run
    /// with the sessions our binaries have (the benchmark's `pgbench`).
    pub fn pg_options(self) -> String {
        self.options()
            .iter()
            .map(|(k, v)| format!("-c {k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The session settings of every connection: the limits, and JIT compilation off. Our
    /// statements are short index walks and per-tenant batches; JIT starts compiling once a
    /// plan's estimated cost passes `jit_above_cost`, which a priced-out step (planner
    /// settings of list reads), a wrong estimate on a never-analysed table or a table
    /// function (the scheduler's `sync_schedule`, costed blind) reaches easily, and compiling
    /// took 0.2-1 s on these machines for queries that run in 1-40 ms without it (the
    /// scheduler tick: 1,013 ms with JIT, 37 ms without).
    fn options(self) -> [(&'static str, String); 4] {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        [
            ("statement_timeout", ms(self.statement)),
            ("lock_timeout", ms(self.lock)),
            (
                "idle_in_transaction_session_timeout",
                ms(self.idle_in_transaction),
            ),
            ("jit", "off".to_string()),
        ]
    }
}

/// A pool for the application role. Lazy, so a binary starts (and reports "not ready")
/// while PostgreSQL is down, and reconnects by itself when it is back.
pub fn connect_lazy(
    url: &str,
    max_connections: u32,
    limits: SessionLimits,
) -> sqlx::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?
        .application_name("stock-tracker")
        .options(limits.options());
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
