use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use std::str::FromStr;
use std::time::Duration;
use stock_tracker_shared::tenancy::migrate;
use stock_tracker_shared::tenancy::pool::SessionLimits;
use tokio::sync::OnceCell;

/// URLs of the local development setup that `scripts/prepare.sh` creates.
const DEFAULT_OWNER_URL: &str =
    "postgres://stock_tracker_owner:owner-dev-password@127.0.0.1:5432/stock_tracker";
const DEFAULT_APP_URL: &str =
    "postgres://stock_tracker_app:app-dev-password@127.0.0.1:5432/stock_tracker";
const DEFAULT_JOBS_URL: &str =
    "postgres://stock_tracker_jobs:jobs-dev-password@127.0.0.1:5432/stock_tracker";

pub fn owner_url() -> String {
    std::env::var("DATABASE_OWNER_URL").unwrap_or_else(|_| DEFAULT_OWNER_URL.to_string())
}

pub fn app_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_APP_URL.to_string())
}

/// The role the worker and the scheduler connect as (the cross-tenant maintenance
/// functions are granted to it, not to the api's role).
pub fn jobs_url() -> String {
    std::env::var("DATABASE_JOBS_URL").unwrap_or_else(|_| DEFAULT_JOBS_URL.to_string())
}

/// The api's and the background services' roles, as `migrate` grants them.
pub fn roles() -> migrate::Roles {
    use stock_tracker_shared::tenancy::pool::role_of;
    migrate::Roles::new(
        &role_of(&app_url()).unwrap(),
        &role_of(&jobs_url()).unwrap(),
    )
    .expect("DATABASE_URL and DATABASE_JOBS_URL name two different plain roles")
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// The same URL pointing at another database.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{db}")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A migrated database named after the migrations' checksums and the grants, built once
/// and shared by every test process (guarded by an advisory lock), then cloned per test.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let roles = roles();
            let mut checksum = 0u64;
            let grants = roles.grants();
            let bytes = migrate::MIGRATOR
                .iter()
                .flat_map(|m| m.checksum.iter().copied())
                .chain(grants.bytes());
            for b in bytes {
                checksum = checksum.wrapping_mul(31).wrapping_add(u64::from(b));
            }
            let name = format!("st_template_{:016x}", checksum);
            let mut admin = PgConnection::connect(&owner_url())
                .await
                .expect("connect as the owner role; run scripts/test.sh (it creates the roles)");
            admin
                .execute("select pg_advisory_lock(727274)")
                .await
                .unwrap();
            let exists: bool =
                sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if !exists {
                let building = format!("{name}_building");
                admin
                    .execute(AssertSqlSafe(format!("drop database if exists {building}")))
                    .await
                    .unwrap();
                admin
                    .execute(AssertSqlSafe(format!("create database {building}")))
                    .await
                    .unwrap();
                migrate::run(&with_database(&owner_url(), &building), &roles)
                    .await
                    .expect("migrations apply to the template");
                // Renaming makes the template appear atomically to other processes.
                admin
                    .execute(AssertSqlSafe(format!(
                        "alter database {building} rename to {name}"
                    )))
                    .await
                    .unwrap();
            }
            admin
                .execute("select pg_advisory_unlock(727274)")
                .await
                .unwrap();
            name
        })
        .await
}

/// A fresh, migrated database for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    /// The api's role: RLS applies.
    pub app: PgPool,
    /// The worker's and the scheduler's role: RLS applies; it alone may run the
    /// cross-tenant maintenance functions.
    pub jobs: PgPool,
    /// The owner role, for assertions that must see every tenant's rows.
    pub owner: PgPool,
}

impl TestDb {
    pub async fn new() -> Self {
        let template = template().await;
        let name = format!("st_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&owner_url()).await.unwrap();
        // Cloning fails while another session is connected to the template, which only
        // happens for a moment while it is being built; retry briefly.
        let mut attempt = 0;
        loop {
            let sql = format!("create database {name} template {template}");
            match admin.execute(AssertSqlSafe(sql)).await {
                Ok(_) => break,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        admin.close().await.ok();
        let pool = |url: String| {
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(5)
                .connect_lazy_with(sqlx::postgres::PgConnectOptions::from_str(&url).unwrap())
        };
        // The roles' pools are built as the binaries build theirs (session limits, JIT off),
        // so what a test or benchmark measures through them is what production runs.
        let role_pool = |url: String, limits: SessionLimits| {
            stock_tracker_shared::tenancy::pool::connect_lazy(&url, 5, limits).unwrap()
        };
        Self {
            app: role_pool(with_database(&app_url(), &name), SessionLimits::API),
            jobs: role_pool(with_database(&jobs_url(), &name), SessionLimits::BACKGROUND),
            owner: pool(with_database(&owner_url(), &name)),
            name,
        }
    }

    pub fn app_url(&self) -> String {
        with_database(&app_url(), &self.name)
    }

    pub fn jobs_url(&self) -> String {
        with_database(&jobs_url(), &self.name)
    }

    pub fn owner_url(&self) -> String {
        with_database(&owner_url(), &self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop needs async work; a short-lived thread with its own runtime does it without
        // touching the (possibly finished) test runtime.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&owner_url()).await {
                    let sql = format!("drop database if exists {name} with (force)");
                    let _ = admin.execute(AssertSqlSafe(sql)).await;
                }
            });
        })
        .join();
    }
}
