//! The `SECURITY DEFINER` functions run as the tables' owner, across every tenant. The
//! internet-facing api's role may call only the one it needs (Stripe's customer lookup);
//! the cross-tenant maintenance (retention purge, token warnings, the scheduler's queueing,
//! billing reconciliation) is for the worker's and the scheduler's role alone, and PUBLIC
//! may call none of them.

use sqlx::PgPool;
use std::collections::BTreeSet;
use stock_tracker_shared::tenancy::migrate::{API_DEFINER_FUNCTIONS, JOBS_DEFINER_FUNCTIONS};
use stock_tracker_tests::{TestDb, db, tenants};

/// Whether `pool`'s role may execute `function` (a signature such as `f(text)`).
async fn may_execute(pool: &PgPool, function: &str) -> bool {
    sqlx::query_scalar("select has_function_privilege(current_user, $1, 'execute')")
        .bind(function)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Runs `sql`; returns the SQLSTATE it failed with, or `None` when it worked.
async fn sqlstate(pool: &PgPool, sql: &'static str) -> Option<String> {
    match sqlx::raw_sql(sql).execute(pool).await {
        Ok(_) => None,
        Err(e) => Some(
            e.as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.to_string())
                .unwrap_or_else(|| format!("not a database error: {e}")),
        ),
    }
}

/// The signatures as PostgreSQL prints them (`f(timestamp with time zone,integer)`); fails
/// if one names no function.
async fn canonical(pool: &PgPool, functions: &[&str]) -> Vec<String> {
    sqlx::query_scalar("select f::regprocedure::text from unnest($1::text[]) as f")
        .bind(functions)
        .fetch_all(pool)
        .await
        .unwrap()
}

const INSUFFICIENT_PRIVILEGE: &str = "42501";

#[tokio::test]
async fn the_api_role_cannot_run_the_cross_tenant_maintenance_functions() {
    let db = TestDb::new().await;
    tenants::with_active_credentials(&db.owner, 2).await;
    // Every tenant's sync history, wiped by the retention purge with a zero retention.
    sqlx::query(
        "insert into sync_runs (id, tenant_id, trigger, status, finished_at)
         select gen_random_uuid(), id, 'schedule', 'succeeded', now() - interval '1 day'
           from tenants",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let runs = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from sync_runs")
            .fetch_one(&db.owner)
            .await
            .unwrap()
    };
    assert_eq!(runs().await, 2);

    for attack in [
        "select purge_old_data(now(), 0, 0)",
        "select record_token_expiry_warnings(now())",
        "select * from queue_due_syncs(now(), 100, '{}'::jsonb)",
        "select * from billing_linked_tenants()",
        "select count_active_tenants(now())",
        "select analyze_synced_tables()",
    ] {
        assert_eq!(
            sqlstate(&db.app, attack).await.as_deref(),
            Some(INSUFFICIENT_PRIVILEGE),
            "the api's role ran: {attack}"
        );
    }
    assert_eq!(runs().await, 2, "nothing was purged");
    for function in JOBS_DEFINER_FUNCTIONS {
        assert!(
            !may_execute(&db.app, function).await,
            "api may run {function}"
        );
        assert!(
            may_execute(&db.jobs, function).await,
            "jobs may not run {function}"
        );
    }

    // The worker's role runs the purge (its rule, across tenants).
    assert_eq!(
        sqlstate(&db.jobs, "select purge_old_data(now(), 0, 0)").await,
        None
    );
    assert_eq!(
        runs().await,
        0,
        "the jobs role purged every tenant's old runs"
    );
}

#[tokio::test]
async fn the_api_role_keeps_the_one_definer_function_it_calls_and_jobs_do_not_get_it() {
    let db = TestDb::new().await;
    let lookup = "select billing_tenant_for_customer('cus_nobody')";
    assert_eq!(sqlstate(&db.app, lookup).await, None);
    assert_eq!(
        sqlstate(&db.jobs, lookup).await.as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    for function in API_DEFINER_FUNCTIONS {
        assert!(may_execute(&db.app, function).await, "{function}");
        assert!(!may_execute(&db.jobs, function).await, "{function}");
    }
}

#[tokio::test]
async fn every_security_definer_function_is_closed_to_public_and_granted_only_to_its_caller() {
    let db = TestDb::new().await;
    // Who besides the owner may execute each definer function (`PUBLIC` for grantee 0).
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select p.oid::regprocedure::text,
                case a.grantee when 0 then 'PUBLIC' else a.grantee::regrole::text end
           from pg_proc p
           join pg_namespace n on n.oid = p.pronamespace
           left join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
             on a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner
          where n.nspname in ('public', 'apalis') and p.prosecdef",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(rows.len() >= 6, "the definer functions are found: {rows:?}");
    let roles = db::roles();
    let api = canonical(&db.owner, API_DEFINER_FUNCTIONS).await;
    let jobs = canonical(&db.owner, JOBS_DEFINER_FUNCTIONS).await;
    for (function, grantee) in &rows {
        assert_ne!(
            grantee.as_deref(),
            Some("PUBLIC"),
            "PUBLIC may run {function}"
        );
        let allowed = if api.contains(function) {
            Some(roles.api.as_str())
        } else if jobs.contains(function) {
            Some(roles.jobs.as_str())
        } else {
            None
        };
        assert!(
            grantee.is_none() || grantee.as_deref() == allowed,
            "{function} is executable by {grantee:?}"
        );
    }
    // Each listed function is granted to its caller.
    let granted: BTreeSet<(String, String)> = rows
        .iter()
        .filter_map(|(f, g)| Some((f.clone(), g.clone()?)))
        .collect();
    for (list, role) in [(&api, &roles.api), (&jobs, &roles.jobs)] {
        for function in list {
            assert!(
                granted.contains(&(function.clone(), role.clone())),
                "{function} is not granted to {role}: {rows:?}"
            );
        }
    }

    // A function created later is executable by nobody but its owner until granted.
    sqlx::raw_sql(
        "create function st_test_later() returns integer language sql security definer as 'select 1'",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    assert!(!may_execute(&db.app, "st_test_later()").await);
    assert!(!may_execute(&db.jobs, "st_test_later()").await);
}
