//! `stock-tracker-api [serve]` runs the HTTP API; `stock-tracker-api migrate` applies the
//! database migrations as the owner role.

use std::process::ExitCode;
use stock_tracker_api::app;
use stock_tracker_api::config::ApiConfig;
use stock_tracker_api::state::AppState;
use stock_tracker_shared::config::CredentialKeys;
use stock_tracker_shared::config::{self, ConfigError, Env};
use stock_tracker_shared::telemetry;
use stock_tracker_shared::tenancy::{migrate, pool};
use stock_tracker_shared::vault::{Vault, rotate};

const USAGE: &str = "usage: stock-tracker-api [serve | migrate | rotate-credentials-key | jobs]
  serve                   run the HTTP API (default)
  migrate                 apply database migrations as DATABASE_OWNER_URL and grant the
                          DATABASE_URL role access
  rotate-credentials-key  re-encrypt every stored WB token under the first key of
                          CREDENTIALS_KEYS (connects as DATABASE_OWNER_URL)
  jobs depth|running|failed|dead
                          the sync queue by state, and runs running, failed or
                          dead-lettered (connects as DATABASE_OWNER_URL)
  jobs retry RUN_ID       queue a fresh sync for a dead-lettered run's tenant";

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command.as_deref() {
        None | Some("serve") => runtime.block_on(serve()),
        Some("migrate") => runtime.block_on(run_migrations()),
        Some("rotate-credentials-key") => runtime.block_on(rotate_credentials_key()),
        Some("jobs") => runtime.block_on(jobs(std::env::args().skip(2).collect())),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let config = config::exit_on_error(ApiConfig::from_env(&Env::from_process()));
    let _telemetry = telemetry::init("stock-tracker-api", &config.common);
    let shutdown = telemetry::Shutdown::listen();
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
    match app::serve(listener, state, shutdown.wait()).await {
        Ok(()) => {
            tracing::info!("api stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn run_migrations() -> ExitCode {
    let env = Env::from_process();
    let urls = (|| -> Result<(String, String), ConfigError> {
        let owner = env.required("DATABASE_OWNER_URL")?;
        let app_url = env.required("DATABASE_URL")?;
        let role = pool::role_of(&app_url)
            .map_err(|_| ConfigError::malformed("DATABASE_URL", "not a PostgreSQL URL"))?;
        Ok((owner, role))
    })();
    let (owner_url, app_role) = config::exit_on_error(urls);
    match migrate::run(&owner_url, &app_role).await {
        Ok(()) => {
            println!("migrations applied; role {app_role} granted access");
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
        let keys = CredentialKeys::parse(&env.required("CREDENTIALS_KEYS")?)
            .map_err(|reason| ConfigError::malformed("CREDENTIALS_KEYS", reason))?;
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
                r.unreadable
            );
            if r.unreadable > 0 {
                eprintln!("some credentials use a key that is no longer in CREDENTIALS_KEYS");
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

async fn jobs(args: Vec<String>) -> ExitCode {
    use stock_tracker_shared::jobs::admin;
    let owner_url = config::exit_on_error(Env::from_process().required("DATABASE_OWNER_URL"));
    let result = async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&owner_url).await?;
        match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["depth"] => {
                for (status, n) in admin::depth(&mut conn).await? {
                    println!("{status:<10} {n}");
                }
            }
            [which @ ("running" | "failed" | "dead")] => {
                for r in admin::runs(&mut conn, which, 100).await? {
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
            ["retry", run_id] => {
                let run_id: uuid::Uuid = run_id.parse()?;
                let new_run = admin::retry_dead(&mut conn, run_id).await?;
                println!("queued run {new_run}");
            }
            _ => anyhow::bail!("usage: jobs depth|running|failed|dead | jobs retry RUN_ID"),
        }
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
