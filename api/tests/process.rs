//! The api binary as operators run it: configuration errors, the role check, migrate,
//! and draining in-flight requests on SIGTERM.

// Test code: a panic is a failed test with its message, and the numbers are the test's own.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::time::Duration;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::http::{TEST_CREDENTIALS_KEYS, TEST_JWT_SECRET};
use stock_tracker_tests::process::{Process, Vars, free_port};

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-api");

fn env(db: &TestDb, port: u16) -> Vars {
    Vars::default()
        .set("DATABASE_URL", db.app_url())
        .set("REDIS_URL", stock_tracker_tests::db::redis_url())
        .set("CREDENTIALS_KEYS", TEST_CREDENTIALS_KEYS)
        .set("JWT_SECRET", TEST_JWT_SECRET)
        .set("PUBLIC_BASE_URL", "http://127.0.0.1")
        .set("API_BIND", format!("127.0.0.1:{port}"))
        .set("LOG_FORMAT", "json")
        .set("PASSWORD_HASH_CONCURRENCY", "1")
}

#[tokio::test]
async fn bad_configuration_is_one_line_and_exit_2() {
    let db = TestDb::new().await;
    // Each bad value is long and distinctive, so that finding it in the output means the
    // value was echoed (a secret's would leak into logs).
    let cases = [
        (
            "JWT_SECRET",
            None,
            "configuration error: JWT_SECRET is not set",
        ),
        (
            "JWT_SECRET",
            Some("short-S3CRET-value"),
            "configuration error: JWT_SECRET is malformed: must be at least 32 characters",
        ),
        (
            "JWT_SECRET",
            Some("change-me-at-least-32-characters-long-random-string"),
            "configuration error: JWT_SECRET is malformed: is the example value",
        ),
        (
            "JWT_SECRET",
            Some("abababababababababababababababababab-S3CRET"),
            "configuration error: JWT_SECRET is malformed: is too predictable",
        ),
        (
            "API_BIND",
            Some("nowhere-to-bind"),
            "configuration error: API_BIND is malformed",
        ),
        (
            "LOG_FORMAT",
            Some("xml-log-format"),
            "configuration error: LOG_FORMAT is malformed",
        ),
        (
            "CREDENTIALS_KEYS",
            Some("k1:tooshort-key-material"),
            "configuration error: CREDENTIALS_KEYS is malformed",
        ),
    ];
    for (var, value, expected) in cases {
        let mut e = env(&db, free_port()).remove(var);
        if let Some(v) = value {
            e = e.set(var, v);
        }
        let mut p = Process::start(EXE, &[], &e);
        let status = p.wait_exit(Duration::from_secs(10));
        assert_eq!(status.code(), Some(2), "{var}: {:?}", p.seen);
        assert_eq!(p.seen.len(), 1, "{var}: one line: {:?}", p.seen);
        assert!(p.seen[0].starts_with(expected), "{var}: {:?}", p.seen);
        if let Some(v) = value {
            assert!(
                !p.seen[0].contains(v),
                "{var}: the value is not echoed: {:?}",
                p.seen
            );
        }
    }
}

#[tokio::test]
async fn refuses_to_serve_as_the_owner_role() {
    let db = TestDb::new().await;
    let e = env(&db, free_port()).set("DATABASE_URL", db.owner_url());
    let mut p = Process::start(EXE, &[], &e);
    assert_eq!(
        p.wait_exit(Duration::from_secs(10)).code(),
        Some(2),
        "{:?}",
        p.seen
    );
    assert!(
        p.seen.iter().any(|l| l.contains("BYPASSRLS")),
        "{:?}",
        p.seen
    );
}

/// `stock-tracker-api migrate` with `env`; its exit code and output.
fn migrate(env: &[(&str, String)]) -> (Option<i32>, Vec<String>) {
    let mut p = Process::start(EXE, &["migrate"], env);
    let code = p.wait_exit(Duration::from_secs(30)).code();
    (code, std::mem::take(&mut p.seen))
}

/// What `migrate` reads, for `db`, with `jobs_role` as `DATABASE_JOBS_ROLE`.
fn migrate_env(db: &TestDb, jobs_role: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.app_url()),
        ("DATABASE_OWNER_URL", db.owner_url()),
        ("DATABASE_JOBS_ROLE", jobs_role.to_string()),
    ]
}

#[tokio::test]
async fn migrate_is_idempotent_and_grants_the_app_role() {
    let db = TestDb::new().await;
    let e = migrate_env(&db, &stock_tracker_tests::db::roles().jobs);
    let (code, seen) = migrate(&e);
    assert_eq!(code, Some(0), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("granted")), "{seen:?}");
    assert_eq!(
        migrate(&e[..1]),
        (
            Some(2),
            vec!["configuration error: DATABASE_OWNER_URL is not set".to_string()]
        )
    );
    assert_eq!(
        migrate(&e[..2]),
        (
            Some(2),
            vec!["configuration error: DATABASE_JOBS_ROLE is not set".to_string()]
        )
    );
}

/// A database migrated by an earlier release granted the api's role every function: the
/// next `migrate` takes the cross-tenant maintenance functions back from it.
#[tokio::test]
async fn migrate_takes_the_maintenance_functions_back_from_the_api_role() {
    let db = TestDb::new().await;
    let roles = stock_tracker_tests::db::roles();
    let can_purge = || async {
        sqlx::query_scalar::<_, bool>(
            "select has_function_privilege($1, 'purge_old_data(timestamptz, integer, integer)', 'execute')",
        )
        .bind(&roles.api)
        .fetch_one(&db.owner)
        .await
        .unwrap()
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "grant execute on all functions in schema public, apalis to {}",
        roles.api
    )))
    .execute(&db.owner)
    .await
    .unwrap();
    assert!(can_purge().await, "as an earlier release left it");
    let (code, seen) = migrate(&migrate_env(&db, &roles.jobs));
    assert_eq!(code, Some(0), "{seen:?}");
    assert!(
        !can_purge().await,
        "the api's role can still purge every tenant"
    );

    // The same role for both is refused: the api would get the maintenance functions.
    let (code, seen) = migrate(&migrate_env(&db, &roles.api));
    assert_eq!(code, Some(2), "{seen:?}");
    assert!(
        seen[0].starts_with("configuration error: DATABASE_JOBS_ROLE is malformed"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut p = Process::start(EXE, &[], &env(&db, port));
    p.wait_for("api ready", Duration::from_secs(20));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // Registrations hash passwords one at a time here, so several are still in flight
    // when the signal arrives.
    let mut in_flight = Vec::new();
    for i in 0..4 {
        let req = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&serde_json::json!({
                "email": format!("drain{i}@shop.ru"),
                "password": "correct horse battery",
                "company_name": "Drain"
            }))
            .send();
        in_flight.push(tokio::spawn(req));
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    p.signal("TERM");
    for r in in_flight {
        let res = r.await.unwrap().expect("in-flight request completes");
        assert_eq!(res.status(), 201);
    }
    let (status, seen) = p.exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{seen:?}");
    // New connections are refused once it has stopped.
    assert!(
        client
            .get(format!("{base}/health/live"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn jobs_subcommands_show_the_queue_and_retry_dead_letters() {
    let db = TestDb::new().await;
    let tenant = stock_tracker_tests::tenants::with_active_credentials(&db.owner, 1).await[0];
    let dead: uuid::Uuid = sqlx::query_scalar(
        "insert into sync_runs (id, tenant_id, trigger, status, attempts, error_code, error_message)
         values (gen_random_uuid(), $1, 'schedule', 'failed', 6, 'dead_lettered', 'Gave up after 5 attempts')
         returning id",
    )
    .bind(tenant)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    let env = vec![("DATABASE_OWNER_URL", db.owner_url())];
    let run = |args: &[&str]| {
        let mut p = Process::start(EXE, args, &env);
        let status = p.wait_exit(Duration::from_secs(20));
        (status.code(), p.seen.join("\n"))
    };
    let (code, out) = run(&["jobs", "dead"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&dead.to_string()) && out.contains("dead_lettered"),
        "{out}"
    );

    let (code, out) = run(&["jobs", "retry", &dead.to_string()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("queued run "), "{out}");
    let queued: i64 = sqlx::query_scalar("select count(*) from sync_runs where status = 'queued'")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let (code, out) = run(&["jobs", "depth"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Pending") && out.contains('1'), "{out}");

    // Retrying something that is not a dead letter is refused, with a reason.
    let (code, out) = run(&["jobs", "retry", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(code, Some(1));
    assert!(out.contains("not a dead-lettered run"), "{out}");
}
