//! A throwaway PostgreSQL cluster of its own, for tests that stop or restart the database
//! server: the shared one at 127.0.0.1:5432 serves every other test running in parallel
//! and must never be touched.
//!
//! [`PgCluster::start`] runs `initdb` into a temporary directory (as the `postgres` OS user
//! when the tests run as root, since `initdb` refuses root), starts the server on a free
//! loopback port with trust authentication, creates the three roles the way
//! `scripts/lib/prepare.sh` does (the owner with `BYPASSRLS`; the api's and the background
//! services' roles neither superuser nor `BYPASSRLS`), and migrates. Dropping it stops the server and deletes the
//! directory. [`PgCluster::api`] serves the real api router in this process on that cluster.

use crate::http::Api;
use crate::process::free_port;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use stock_tracker_shared::tenancy::migrate;

const OWNER: &str = "stock_tracker_owner";
const APP: &str = "stock_tracker_app";
const JOBS: &str = "stock_tracker_jobs";
const DATABASE: &str = "stock_tracker";

pub struct PgCluster {
    ctl: Ctl,
}

/// What running `pg_ctl` on the cluster needs; cloned into blocking tasks.
#[derive(Clone)]
struct Ctl {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The `postgres` OS user runs the server when we are root.
    as_postgres: bool,
}

/// Where `initdb` and `pg_ctl` live: `PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else `pg_config --bindir`.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return dir.into();
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("no PostgreSQL server binaries: set PG_BIN_DIR or install postgresql");
    String::from_utf8_lossy(&out.stdout).trim().into()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(flag: &str, user: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no {user} OS user to run PostgreSQL as (tests run as root)"))
}

impl PgCluster {
    /// A new, running, migrated cluster. Takes a few seconds (initdb).
    pub async fn start() -> Self {
        let cluster = tokio::task::spawn_blocking(Self::init_and_start)
            .await
            .unwrap();
        cluster.prepare().await;
        cluster
    }

    async fn prepare(&self) {
        let mut admin = PgConnection::connect(&self.ctl.url("postgres", "postgres"))
            .await
            .expect("connect to the throwaway cluster as postgres");
        // As scripts/lib/prepare.sh: the owner needs BYPASSRLS for the scheduler's
        // cross-tenant SECURITY DEFINER function; the application role must not have it.
        for statement in [
            format!("create role {OWNER} login createdb bypassrls password 'owner-dev-password'"),
            format!(
                "create role {APP} login nosuperuser nobypassrls nocreatedb password 'app-dev-password'"
            ),
            format!(
                "create role {JOBS} login nosuperuser nobypassrls nocreatedb password 'jobs-dev-password'"
            ),
            format!("create database {DATABASE} owner {OWNER}"),
        ] {
            admin.execute(AssertSqlSafe(statement)).await.unwrap();
        }
        admin.close().await.ok();
        let roles = migrate::Roles::new(APP, JOBS).unwrap();
        migrate::run(&self.owner_url(), &roles)
            .await
            .expect("migrations apply to the throwaway cluster");
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        self.ctl.log()
    }

    /// The tables' owner (migrations, assertions across tenants).
    pub fn owner_url(&self) -> String {
        self.ctl.url(OWNER, DATABASE)
    }

    /// The api's role, as the api connects.
    pub fn app_url(&self) -> String {
        self.ctl.url(APP, DATABASE)
    }

    /// The background services' role, as the worker and the scheduler connect.
    pub fn jobs_url(&self) -> String {
        self.ctl.url(JOBS, DATABASE)
    }

    /// A small lazy pool as the owner; like any pool it reconnects after a restart.
    pub fn owner_pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(3)
            .connect_lazy_with(PgConnectOptions::from_str(&self.owner_url()).unwrap())
    }

    /// `pg_ctl restart -m fast`: every session is cut, the server is down for a moment and
    /// comes back on the same port. Returns once it accepts connections again.
    pub async fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "30"])
            .await;
    }

    /// Stops the server (`-m fast`: sessions are terminated).
    pub async fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "30"]).await;
    }

    /// Starts a stopped server again, on the same port.
    pub async fn start_again(&self) {
        self.pg_ctl(&["start", "-w", "-t", "30"]).await;
    }

    /// Off the async runtime: pg_ctl waits for seconds, and the test's api, WB fake and
    /// pools live on that runtime.
    async fn pg_ctl(&self, args: &[&str]) {
        let ctl = self.ctl.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(
                ctl.try_pg_ctl(&args),
                "pg_ctl {args:?} failed; log:\n{}",
                ctl.log()
            );
        })
        .await
        .unwrap();
    }

    /// The real api router in this process, on this cluster, with WB at `wb_url`.
    /// The real api in this process on this cluster, with WB at `wb_url`.
    pub async fn api(&self, wb_url: &str) -> Api {
        Api::serve(self.app_url(), crate::http::wb_settings(wb_url)).await
    }
}

impl PgCluster {
    /// initdb and start; on a panic, dropping the half-made cluster cleans up.
    fn init_and_start() -> Self {
        let dir = std::env::temp_dir().join(format!("st-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            std::os::unix::fs::chown(
                &dir,
                Some(id_of("-u", "postgres")),
                Some(id_of("-g", "postgres")),
            )
            .unwrap();
        }
        let mut cluster = Self {
            ctl: Ctl {
                dir,
                bin: bin_dir(),
                port: 0,
                as_postgres,
            },
        };
        let ctl = &mut cluster.ctl;
        let data = ctl.data();
        let out = ctl
            .command(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "--no-instructions",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // A port free when chosen could be taken before the server binds it: try another.
        for _ in 0..5 {
            ctl.port = free_port();
            if ctl.try_pg_ctl(&["start", "-w", "-t", "30"]) {
                return cluster;
            }
        }
        panic!("throwaway PostgreSQL did not start; log:\n{}", ctl.log());
    }
}

impl Ctl {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn url(&self, user: &str, db: &str) -> String {
        let password = match user {
            OWNER => ":owner-dev-password",
            APP => ":app-dev-password",
            JOBS => ":jobs-dev-password",
            _ => "",
        };
        format!("postgres://{user}{password}@127.0.0.1:{}/{db}", self.port)
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args);
        cmd
    }

    /// `pg_ctl` with the data directory, the log and the server options (the port, loopback
    /// only, the socket in our directory, durability off: nothing here outlives the test).
    fn try_pg_ctl(&self, args: &[&str]) -> bool {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let data = self.data();
        let log = self.log_path();
        let mut full = vec!["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap()];
        full.extend(["-o", options.as_str()]);
        full.extend(args);
        self.command("pg_ctl", &full)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.ctl.data();
        let _ = self
            .ctl
            .command(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "stop",
                    "-m",
                    "immediate",
                    "-w",
                ],
            )
            .output();
        let _ = std::fs::remove_dir_all(&self.ctl.dir);
    }
}
