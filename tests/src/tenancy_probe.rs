//! A reusable cross-tenant check: two tenants with members, and an assertion that tenant
//! B's valid token gets 404 for each route naming tenant A's objects, and that A's objects
//! are unchanged afterwards. Later issues add their routes to the list they pass.

use crate::http::{Session, TestApp};
use reqwest::Method;
use serde_json::Value;

pub struct TwoTenants<'a> {
    app: &'a TestApp,
    pub a: Session,
    pub a_member: Session,
    pub b: Session,
}

impl<'a> TwoTenants<'a> {
    pub async fn new(app: &'a TestApp) -> Self {
        let a = app.register("owner-a@shop.ru", "Tenant A").await;
        let a_member = app.add_member(&a, "member-a@shop.ru", "member").await;
        let b = app.register("owner-b@shop.ru", "Tenant B").await;
        Self {
            app,
            a,
            a_member,
            b,
        }
    }

    /// Counts of every tenant table, as the owner role sees them: a cross-tenant write
    /// would change one.
    async fn fingerprint(&self) -> Vec<(String, i64)> {
        let tables: Vec<String> = sqlx::query_scalar(
            "select distinct c.relname::text from pg_attribute a
               join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'public' and a.attname = 'tenant_id' and c.relkind = 'r'
              order by 1",
        )
        .fetch_all(&self.app.db.owner)
        .await
        .unwrap();
        let mut out = Vec::new();
        for t in tables {
            let sql = format!(
                "select count(*) from {t} where tenant_id = '{}'",
                self.a.tenant_id
            );
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.app.db.owner)
                .await
                .unwrap();
            out.push((t, n));
        }
        out
    }

    pub async fn assert_isolated(&self, routes: &[(Method, String, Option<Value>)]) {
        let before = self.fingerprint().await;
        for (method, path, body) in routes {
            let a = self
                .app
                .call(method.clone(), path, Some(&self.b.access), body.clone())
                .await;
            assert_eq!(
                a.status.as_u16(),
                404,
                "{method} {path} as tenant B: {a:#?}"
            );
            assert_eq!(a.body["code"], "not_found", "{method} {path}");
        }
        assert_eq!(
            before,
            self.fingerprint().await,
            "tenant A's rows are unchanged"
        );
    }
}
