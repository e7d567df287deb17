//! `stock-tracker-api [serve]` runs the HTTP API; `migrate`, `rotate-credentials-key` and
//! `jobs …` are the operator's commands (see `cli.rs` and `--help`).

mod cli;

use clap::Parser;
use cli::{Cli, Command, JobsArgs, JobsCommand, WbBillingCommand};
use std::process::ExitCode;
use stock_tracker_api::app;
use stock_tracker_api::config::ApiConfig;
use stock_tracker_api::state::AppState;
use stock_tracker_shared::config::CredentialKeys;
use stock_tracker_shared::config::{self, CommonConfig, ConfigError, Env};
use stock_tracker_shared::ids::SyncRunId;
use stock_tracker_shared::service::{self, ServiceConfig};
use stock_tracker_shared::telemetry::Shutdown;
use stock_tracker_shared::tenancy::{migrate, pool};
use stock_tracker_shared::vault::{Vault, rotate};

const SERVICE: &str = "stock-tracker-api";

fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Serve => service::run(
            SERVICE,
            |env| ApiConfig::from_env(env).map(Api),
            |Api(config), shutdown| serve(config, shutdown),
        ),
        Command::Migrate => service::block_on(run_migrations()),
        Command::RotateCredentialsKey => service::block_on(rotate_credentials_key()),
        Command::Jobs(args) => service::block_on(jobs(args)),
        Command::WbBilling(command) => service::block_on(wb_billing(command)),
    }
}

/// The api's configuration as the shared bootstrap sees it.
struct Api(ApiConfig);

impl ServiceConfig for Api {
    fn common(&self) -> &CommonConfig {
        &self.0.common
    }
}

async fn serve(config: ApiConfig, shutdown: Shutdown) -> ExitCode {
    let bind = config.bind;
    let state = match AppState::new(config) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the application state");
            return ExitCode::FAILURE;
        }
    };
    match pool::verify_app_role(&state.db).await {
        Ok(()) => {}
        Err(pool::RoleError::Database(e)) => {
            tracing::warn!(error = %e, "database unreachable at start-up; /health/ready reports it until it is back");
        }
        Err(unsafe_role) => {
            eprintln!("configuration error: {unsafe_role}");
            return ExitCode::from(2);
        }
    }
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %bind, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%bind, "api ready");
    service::exit(
        "api",
        app::serve(listener, state, shutdown.wait())
            .await
            .map_err(Into::into),
    )
}

async fn run_migrations() -> ExitCode {
    let env = Env::from_process();
    let settings = (|| -> Result<(String, String, String), ConfigError> {
        let owner = env.required("DATABASE_OWNER_URL")?;
        let app_url = env.required("DATABASE_URL")?;
        let api_role = pool::role_of(&app_url)
            .map_err(|_| ConfigError::malformed("DATABASE_URL", "not a PostgreSQL URL"))?;
        let jobs_role = env.required("DATABASE_JOBS_ROLE")?;
        Ok((owner, api_role, jobs_role))
    })();
    let (owner_url, api_role, jobs_role) = config::exit_on_error(settings);
    let roles = config::exit_on_error(
        migrate::Roles::new(&api_role, &jobs_role)
            .map_err(|e| ConfigError::malformed("DATABASE_JOBS_ROLE", e.to_string())),
    );
    match migrate::run(&owner_url, &roles).await {
        Ok(()) => {
            println!(
                "migrations applied; roles {} (api) and {} (worker, scheduler) granted access",
                roles.api, roles.jobs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migration failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate_credentials_key() -> ExitCode {
    let env = Env::from_process();
    let settings = (|| -> Result<(String, CredentialKeys), ConfigError> {
        let owner = env.required("DATABASE_OWNER_URL")?;
        let keys = CredentialKeys::from_env(&env)?;
        Ok((owner, keys))
    })();
    let (owner_url, keys) = config::exit_on_error(settings);
    let vault = Vault::new(keys);
    let result = async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&owner_url).await?;
        rotate::rotate(&mut conn, &vault).await
    }
    .await;
    match result {
        Ok(r) => {
            println!(
                "re-encrypted {} credential(s) under key {}; {} changed meanwhile; {} unreadable",
                r.resealed,
                vault.active_key_id(),
                r.skipped,
                r.unreadable.len()
            );
            if !r.unreadable.is_empty() {
                eprintln!("some credentials use a key that is no longer in CREDENTIALS_KEYS:");
                for id in &r.unreadable {
                    eprintln!("  unreadable credential {id}");
                }
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("rotation failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn jobs(args: JobsArgs) -> ExitCode {
    use stock_tracker_shared::jobs::admin;
    let owner_url = config::exit_on_error(Env::from_process().required("DATABASE_OWNER_URL"));
    let result = async {
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&owner_url)
            .await?;
        match (args.command, args.runs) {
            (Some(JobsCommand::Depth), _) => {
                let mut conn = db.acquire().await?;
                for (status, n) in admin::depth(&mut conn).await? {
                    println!("{:<10} {n}", status.to_string());
                }
            }
            (Some(JobsCommand::Retry { run_id }), _) => {
                let new_run = admin::retry_dead(&db, SyncRunId(run_id)).await?;
                println!("queued run {new_run}");
            }
            (None, Some(state)) => {
                let mut conn = db.acquire().await?;
                for r in admin::runs(&mut conn, state.into(), 100).await? {
                    println!(
                        "{} tenant={} status={} attempts={} worker={} started={} finished={} error={} {}",
                        r.id,
                        r.tenant_id,
                        r.status,
                        r.attempts,
                        r.worker.unwrap_or_default(),
                        r.started_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        r.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        r.error_code.unwrap_or_default(),
                        r.error_message.unwrap_or_default()
                    );
                }
            }
            // clap requires one of the two (`arg_required_else_help`).
            (None, None) => anyhow::bail!("usage: jobs depth|running|failed|dead | jobs retry RUN_ID"),
        }
        db.close().await;
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jobs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `wb-billing status|resume`: the pause WB's 402 puts on every sync (see `sync::pause`).
async fn wb_billing(command: WbBillingCommand) -> ExitCode {
    use stock_tracker_shared::sync::pause;
    let owner_url = config::exit_on_error(Env::from_process().required("DATABASE_OWNER_URL"));
    let result = async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&owner_url).await?;
        let shown = match command {
            WbBillingCommand::Status => pause::current(&mut conn).await?,
            WbBillingCommand::Resume => pause::resume(&mut conn).await?,
        };
        conn.close().await?;
        match (command, shown) {
            (_, None) => println!("syncing is not paused"),
            (WbBillingCommand::Status, Some(p)) => println!(
                "syncing is PAUSED for every tenant: {} since {}, last 402 at {}; top up the \
                 balance on WB's developer portal, then run `stock-tracker-api wb-billing resume`",
                p.reason,
                p.paused_at.to_rfc3339(),
                p.last_seen_at.to_rfc3339()
            ),
            (WbBillingCommand::Resume, Some(p)) => println!(
                "resumed: syncing was paused ({}) since {}; the scheduler queues due syncs at \
                 its next tick",
                p.reason,
                p.paused_at.to_rfc3339()
            ),
        }
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wb-billing: {e:#}");
            ExitCode::FAILURE
        }
    }
}
