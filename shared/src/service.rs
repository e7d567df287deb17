//! The bootstrap every binary shares (api, worker, scheduler): read the configuration once,
//! start the runtime, logs and error reporting, listen for SIGTERM, connect, run, exit; and
//! [`TaskGuard`], the way a binary keeps a background task from outliving it.

use crate::config::{self, CommonConfig, ConfigError, Env};
use crate::kv::{self, Redis};
use crate::telemetry::{self, Shutdown};
use crate::tenancy::pool;
use sqlx::PgPool;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// A binary's typed configuration, which includes the settings every binary has.
pub trait ServiceConfig {
    fn common(&self) -> &CommonConfig;
}

/// A binary's `main`: reads the configuration from the environment (a missing or malformed
/// setting prints one line naming it and exits 2), starts the async runtime, telemetry and
/// the shutdown listener, then runs `body` until it returns the exit code.
pub fn run<C, Fut>(
    service: &'static str,
    load: impl FnOnce(&Env) -> Result<C, ConfigError>,
    body: impl FnOnce(C, Shutdown) -> Fut,
) -> ExitCode
where
    C: ServiceConfig,
    Fut: Future<Output = ExitCode>,
{
    let config = config::exit_on_error(load(&Env::from_process()));
    block_on(async move {
        let _telemetry = telemetry::init(service, config.common());
        let shutdown = Shutdown::listen();
        body(config, shutdown).await
    })
}

/// [`run`] for a background binary (worker, scheduler): connects to PostgreSQL and Redis
/// first ([`connect_or_exit`]), then runs `body` until it ends, and exits 0 if it ended well
/// ([`exit`], logged as `{role} stopped` or `{role} failed`).
pub fn run_connected<C, Fut>(
    service: &'static str,
    role: &'static str,
    load: impl FnOnce(&Env) -> Result<C, ConfigError>,
    body: impl FnOnce(C, Connections, Shutdown) -> Fut,
) -> ExitCode
where
    C: ServiceConfig,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run(service, load, |config, shutdown| async move {
        match connect_or_exit(config.common(), service, &shutdown).await {
            Ok(connections) => exit(role, body(config, connections, shutdown).await),
            Err(code) => code,
        }
    })
}

/// Runs `body` on a new multi-threaded runtime: for commands that need no telemetry (the
/// api's admin subcommands) as much as for [`run`].
pub fn block_on(body: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(body),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`connect`], unless the shutdown signal comes first. `Err` is the code to exit with: 2
/// (after one line on stderr) for a database role that could bypass tenant isolation, 0 when
/// told to stop while still waiting for the dependencies.
pub async fn connect_or_exit(
    config: &CommonConfig,
    service: &str,
    shutdown: &Shutdown,
) -> Result<Connections, ExitCode> {
    tokio::select! {
        result = connect(config, service) => result.map_err(|e| {
            eprintln!("configuration error: {e}");
            ExitCode::from(2)
        }),
        () = shutdown.clone().wait() => Err(ExitCode::SUCCESS),
    }
}

/// The exit code of a binary whose work ended with `result`, logged.
pub fn exit(service: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => {
            tracing::info!(service, "{service} stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(service, error = %e, "{service} failed");
            ExitCode::FAILURE
        }
    }
}

/// A spawned background task that is aborted when the guard is dropped: a binary holds one
/// for each helper task (metrics endpoint, samplers), so none outlives the work it serves.
#[must_use = "dropping the guard aborts the task"]
pub struct TaskGuard(Option<tokio::task::JoinHandle<()>>);

impl TaskGuard {
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(tokio::spawn(task)))
    }

    /// Aborts the task and waits until it is gone.
    pub async fn stop(mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
            let _ = handle.await;
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

pub struct Connections {
    pub db: PgPool,
    pub redis: Redis,
}

/// Connects to PostgreSQL and Redis, waiting (with a capped back-off) until both answer, so
/// that a binary started before its dependencies comes up by itself instead of crashing.
/// Refuses a database role that could bypass tenant isolation.
pub async fn connect(config: &CommonConfig, service: &str) -> anyhow::Result<Connections> {
    let db = pool::connect_lazy(
        config.database_url.expose(),
        config.database_max_connections,
        config.database_session,
    )?;
    let redis = kv::connect(config.redis_url.expose())?;
    let mut delay = Duration::from_millis(250);
    loop {
        let db_state = pool::verify_app_role(&db).await;
        if let Err(
            e @ (pool::RoleError::Superuser(_)
            | pool::RoleError::BypassRls(_)
            | pool::RoleError::OwnsTables { .. }),
        ) = db_state
        {
            anyhow::bail!(e);
        }
        let redis_state = kv::ping(&redis).await;
        match (&db_state, &redis_state) {
            (Ok(()), Ok(())) => break,
            _ => {
                tracing::warn!(
                    service,
                    postgres = ?db_state.as_ref().err().map(ToString::to_string),
                    redis = ?redis_state.as_ref().err().map(ToString::to_string),
                    retry_in_ms = delay.as_millis(),
                    "waiting for dependencies"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Ok(Connections { db, redis })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_task_guard_aborts_its_task() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let guard = TaskGuard::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        assert!(
            rx.try_recv()
                .is_err_and(|e| e == tokio::sync::mpsc::error::TryRecvError::Empty)
        );
        drop(guard);
        // The task, and the sender it held, are gone.
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), rx.recv()).await,
            Ok(None)
        );
    }

    #[tokio::test]
    async fn stopping_a_task_guard_waits_for_the_task_to_end() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let guard = TaskGuard::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        guard.stop().await;
        assert_eq!(
            rx.try_recv(),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
        );
    }
}
