//! The start-up and shutdown contract the worker and scheduler share: one line and exit 2
//! on bad configuration; ready once PostgreSQL and Redis answer; exit 0 on SIGTERM.

use crate::TestDb;
use crate::process::{Process, base_env};
use std::time::Duration;

pub async fn exits_2_naming_a_missing_variable(exe: &str) {
    let db = TestDb::new().await;
    let env = base_env(&db).remove("REDIS_URL");
    let mut p = Process::start(exe, &[], &env);
    let status = p.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{:?}", p.seen);
    assert_eq!(p.seen, ["configuration error: REDIS_URL is not set"]);
}

pub async fn refuses_a_role_that_bypasses_rls(exe: &str) {
    let db = TestDb::new().await;
    let env = base_env(&db).set("DATABASE_URL", db.owner_url());
    let mut p = Process::start(exe, &[], &env);
    let status = p.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{:?}", p.seen);
    assert!(
        p.seen.iter().any(|l| l.contains("BYPASSRLS")),
        "{:?}",
        p.seen
    );
}

pub async fn starts_and_stops_cleanly_on_sigterm(exe: &str, ready_line: &str) {
    let db = TestDb::new().await;
    let mut p = Process::start(exe, &[], &base_env(&db));
    p.wait_for(ready_line, Duration::from_secs(20));
    p.signal("TERM");
    let status = p.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:?}", p.seen);
}

pub async fn waits_for_redis_and_stops_on_sigterm_while_waiting(exe: &str, ready_line: &str) {
    let db = TestDb::new().await;
    let env = base_env(&db).set("REDIS_URL", "redis://127.0.0.1:1");
    let mut p = Process::start(exe, &[], &env);
    p.wait_for("waiting for dependencies", Duration::from_secs(20));
    assert!(!p.seen.iter().any(|l| l.contains(ready_line)));
    // SIGTERM while still waiting also ends it cleanly.
    p.signal("TERM");
    assert_eq!(
        p.wait_exit(Duration::from_secs(10)).code(),
        Some(0),
        "{:?}",
        p.seen
    );
}

/// The four start-up and shutdown tests, for a binary's own `tests/` (where
/// `CARGO_BIN_EXE_*` names it): `lifecycle_tests!(env!("CARGO_BIN_EXE_x"), "x ready");`
#[macro_export]
macro_rules! lifecycle_tests {
    ($exe:expr, $ready:expr) => {
        #[tokio::test]
        async fn exits_2_naming_a_missing_variable() {
            $crate::lifecycle::exits_2_naming_a_missing_variable($exe).await;
        }

        #[tokio::test]
        async fn refuses_a_role_that_bypasses_rls() {
            $crate::lifecycle::refuses_a_role_that_bypasses_rls($exe).await;
        }

        #[tokio::test]
        async fn starts_and_stops_cleanly_on_sigterm() {
            $crate::lifecycle::starts_and_stops_cleanly_on_sigterm($exe, $ready).await;
        }

        #[tokio::test]
        async fn waits_for_redis_and_stops_on_sigterm_while_waiting() {
            $crate::lifecycle::waits_for_redis_and_stops_on_sigterm_while_waiting($exe, $ready)
                .await;
        }
    };
}
