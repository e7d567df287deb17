//! Tenant isolation: the database enforces it (catalog checks), and no route lets one
//! tenant read or change another's objects.

use reqwest::{Method, StatusCode};
use serde_json::json;
use stock_tracker_shared::tenancy::{self, Scope};
use stock_tracker_tests::{TestApp, tenancy_probe};

#[tokio::test]
async fn every_tenant_table_forces_rls_and_the_app_role_cannot_bypass_it() {
    let app = TestApp::spawn().await;
    let unprotected: Vec<String> = sqlx::query_scalar(
        "select c.relname::text
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('r', 'p')
            and (exists (select 1 from pg_attribute a
                          where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
                 or c.relname in ('tenants', 'users'))
            and not (c.relrowsecurity and c.relforcerowsecurity)",
    )
    .fetch_all(&app.db.owner)
    .await
    .unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without forced RLS: {unprotected:?}"
    );

    let tenant_tables: i64 = sqlx::query_scalar(
        "select count(distinct a.attrelid) from pg_attribute a
           join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and a.attname = 'tenant_id' and c.relkind = 'r'",
    )
    .fetch_one(&app.db.owner)
    .await
    .unwrap();
    assert!(
        tenant_tables >= 3,
        "the catalog query sees the tenant tables"
    );

    // Every RLS table has at least one policy (RLS with none would hide everything silently).
    let without_policy: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relrowsecurity
            and not exists (select 1 from pg_policy p where p.polrelid = c.oid)",
    )
    .fetch_all(&app.db.owner)
    .await
    .unwrap();
    assert!(without_policy.is_empty(), "{without_policy:?}");

    let (superuser, bypass, owned): (bool, bool, i64) = sqlx::query_as(
        "select r.rolsuper, r.rolbypassrls,
                (select count(*) from pg_tables t where t.tableowner = r.rolname)
           from pg_roles r where r.rolname = current_user",
    )
    .fetch_one(&app.db.app)
    .await
    .unwrap();
    assert!(
        !superuser && !bypass,
        "the application role is neither superuser nor BYPASSRLS"
    );
    assert_eq!(owned, 0, "the application role owns no table");
    stock_tracker_shared::tenancy::pool::verify_app_role(&app.db.app)
        .await
        .expect("the start-up check agrees");
    // And the start-up check refuses the owner role.
    assert!(
        stock_tracker_shared::tenancy::pool::verify_app_role(&app.db.owner)
            .await
            .is_err()
    );
}

/// The invitations' e-mail addresses the app role sees with `tenant` set.
async fn invitations_seen_by(app: &TestApp, tenant: &str) -> Vec<String> {
    let tenant: uuid::Uuid = tenant.parse().unwrap();
    let mut tx = tenancy::begin(&app.db.app, Scope::tenant(tenant.into()))
        .await
        .unwrap();
    sqlx::query_scalar("select email from invitations")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn without_a_tenant_the_app_role_sees_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let a = app.register("a@shop.ru", "A").await;
    let b = app.register("b@shop.ru", "B").await;
    // A pending invitation in A, so that every table below has a row to hide.
    app.invite(&a, "invitee@shop.ru", "viewer").await;
    for table in [
        "tenants",
        "users",
        "memberships",
        "refresh_tokens",
        "invitations",
    ] {
        let sql = format!("select count(*) from {table}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&app.db.owner)
            .await
            .unwrap();
        let visible: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&app.db.app)
            .await
            .unwrap();
        assert_eq!(
            visible, 0,
            "{table}: the app role sees rows with no tenant set"
        );
        assert!(
            total > 0,
            "{table}: the owner sees the rows, so zero above is RLS"
        );
    }
    // With a tenant set, the invitation is A's alone.
    assert_eq!(
        invitations_seen_by(&app, &a.tenant_id).await,
        ["invitee@shop.ru"]
    );
    assert!(invitations_seen_by(&app, &b.tenant_id).await.is_empty());
    // Writing without a tenant, or into another tenant, is refused by the policies.
    let blind = sqlx::query("insert into tenants (id, name) values (gen_random_uuid(), 'x')")
        .execute(&app.db.app)
        .await;
    assert!(blind.is_err());
    let tenant_a: uuid::Uuid = a.tenant_id.parse().unwrap();
    let mut tx = tenancy::begin(&app.db.app, Scope::tenant(uuid::Uuid::new_v4().into()))
        .await
        .unwrap();
    let cross = sqlx::query("update tenants set name = 'pwned' where id = $1")
        .bind(tenant_a)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(cross.rows_affected(), 0);
    let smuggle = sqlx::query("insert into invitations (id, tenant_id, email, role, token_hash, invited_by, expires_at)
                               values (gen_random_uuid(), $1, 'x@y.co', 'viewer', '\\x00', $2, now())")
        .bind(tenant_a)
        .bind(a.user_id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut *tx)
        .await;
    assert!(smuggle.is_err(), "cannot write a row into another tenant");
}

/// The probe of every documented route is `tenancy_sync`'s (tenant A needs synced data for
/// it); this is what B's own reads show.
#[tokio::test]
async fn tenant_b_reads_and_renames_only_itself() {
    let app = TestApp::spawn().await;
    let probe = tenancy_probe::TwoTenants::new(&app).await;
    // B's reads show only B.
    let t = app.get("/api/v1/tenant", &probe.b.access).await;
    assert_eq!(t.body["id"], probe.b.tenant_id.as_str());
    let members = app.get("/api/v1/tenant/members", &probe.b.access).await;
    let emails: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [probe.b.email.as_str(), probe.b_viewer.email.as_str()]
    );
    // B's access token names B's tenant; editing it to A's tenant breaks the signature.
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&probe.b.access),
            Some(json!({"name": "B2"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let a_tenant = app.get("/api/v1/tenant", &probe.a.access).await;
    assert_eq!(a_tenant.body["name"], "Tenant A");
}
