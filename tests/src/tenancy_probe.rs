//! The cross-tenant probe: two tenants, and an assertion that tenant B's callers reach
//! nothing of tenant A's through any route. The routes come from the api's own OpenAPI
//! document (`/openapi.json`), so a new route is probed without anyone adding it here.
//!
//! For every operation in the document, B's owner and B's viewer call it with tenant A's
//! ids: each path parameter is filled, in turn, with every id of A's of its type (gathered
//! from A's rows in every tenant table, so an id a new table brings is tried too), and query
//! parameters naming an id likewise; JSON bodies are built from the operation's schema with
//! A's values. Where a path names A's object, B's owner gets 404 `not_found` and B's viewer
//! 404 or 403 (its role forbids the route); no answer carries A's data, and A's rows are
//! byte for byte unchanged afterwards. Every id-bearing route must answer 2xx to A itself for
//! one of the ids tried, so the 404s are about the tenant, not about ids that do not exist.
//! Only the routes in [`NOT_TENANT_SCOPED`] are skipped; an operation the probe cannot fill
//! from A's objects fails the test instead of being passed over.

use crate::http::{Answer, Session, TestApp};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Operations that act on no tenant's objects: sign-up and sessions, health and metrics,
/// the public plan list and Stripe's webhook (authenticated by its signature).
pub const NOT_TENANT_SCOPED: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/accept-invitation"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/billing/plans"),
    ("POST", "/api/v1/billing/webhook"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub struct TwoTenants<'a> {
    app: &'a TestApp,
    pub a: Session,
    pub a_member: Session,
    pub b: Session,
    pub b_viewer: Session,
}

/// Tenant A's ids, by type, and what its data looks like in an answer.
#[derive(Debug, Default)]
struct Ids {
    uuids: Vec<String>,
    integers: Vec<i64>,
    /// Strings that only A's data contains (ids, e-mail addresses, the company name).
    markers: Vec<String>,
    /// A's long integer ids (articles, size ids): small ones (counts, limits) are not A's.
    long_integers: BTreeSet<i64>,
}

/// One operation of the document, ready to call.
#[derive(Debug)]
struct Operation {
    method: Method,
    template: String,
    path_params: Vec<(String, Kind)>,
    id_query_params: Vec<(String, Kind)>,
    body: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Uuid,
    Integer,
    Other,
}

impl<'a> TwoTenants<'a> {
    /// Tenant A with an owner, a member, a pending invitation and an API key; tenant B with
    /// an owner and a viewer. Tests add what else A should own (a sync, say) before probing.
    pub async fn new(app: &'a TestApp) -> Self {
        let a = app.register("owner-a@shop.ru", "Tenant A").await;
        let a_member = app.add_member(&a, "member-a@shop.ru", "member").await;
        let b = app.register("owner-b@shop.ru", "Tenant B").await;
        let b_viewer = app.add_member(&b, "viewer-b@shop.ru", "viewer").await;
        app.invite(&a, "invited-a@shop.ru", "viewer").await;
        let key = app
            .post(
                "/api/v1/api-keys",
                Some(&a.access),
                json!({"name": "A's ERP", "scope": "read_write"}),
            )
            .await;
        assert_eq!(key.status.as_u16(), 201, "{key:#?}");
        Self {
            app,
            a,
            a_member,
            b,
            b_viewer,
        }
    }

    /// Every tenant table's rows of tenant A (and A's tenant and user rows), as text: a
    /// cross-tenant write of any kind would change it.
    async fn fingerprint(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for table in self.tenant_tables().await {
            let sql = format!(
                "select coalesce(string_agg(t::text, E'\\n' order by t::text), '')
                   from {table} t where tenant_id = '{}'",
                self.a.tenant_id
            );
            out.insert(table, self.text(sql).await);
        }
        let tenant = format!(
            "select t::text from tenants t where id = '{}'",
            self.a.tenant_id
        );
        out.insert("tenants".into(), self.text(tenant).await);
        let users = format!(
            "select coalesce(string_agg(u::text, E'\\n' order by u::text), '') from users u
              where id in (select user_id from memberships where tenant_id = '{}')",
            self.a.tenant_id
        );
        out.insert("users".into(), self.text(users).await);
        out
    }

    async fn text(&self, sql: String) -> String {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.app.db.owner)
            .await
            .unwrap()
    }

    async fn tenant_tables(&self) -> Vec<String> {
        sqlx::query_scalar(
            "select distinct c.relname::text from pg_attribute a
               join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'public' and a.attname = 'tenant_id' and c.relkind = 'r'
              order by 1",
        )
        .fetch_all(&self.app.db.owner)
        .await
        .unwrap()
    }

    /// A's ids: every uuid column, and every integer column named `…id`, of A's rows in
    /// every tenant table (a few of each), plus A's tenant id.
    async fn ids_of_a(&self) -> Ids {
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "select c.relname::text, a.attname::text, t.typname::text
               from pg_attribute a
               join pg_class c on c.oid = a.attrelid
               join pg_namespace n on n.oid = c.relnamespace
               join pg_type t on t.oid = a.atttypid
              where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0
                and not a.attisdropped and a.attname <> 'tenant_id'
                and exists (select 1 from pg_attribute x
                             where x.attrelid = c.oid and x.attname = 'tenant_id')
                and (t.typname = 'uuid'
                     or (t.typname in ('int2', 'int4', 'int8') and a.attname like '%id'))
              order by 1, 2",
        )
        .fetch_all(&self.app.db.owner)
        .await
        .unwrap();
        let mut uuids = BTreeSet::from([self.a.tenant_id.clone()]);
        let mut integers = BTreeSet::new();
        for (table, column, typ) in columns {
            let sql = format!(
                "select distinct {column}::text from {table}
                  where tenant_id = '{}' and {column} is not null order by 1 limit 3",
                self.a.tenant_id
            );
            let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.app.db.owner)
                .await
                .unwrap();
            for v in values {
                if typ == "uuid" {
                    uuids.insert(v);
                } else {
                    integers.insert(v.parse::<i64>().unwrap());
                }
            }
        }
        let mut markers: Vec<String> = uuids.iter().cloned().collect();
        markers.extend([
            self.a.email.clone(),
            self.a_member.email.clone(),
            "invited-a@shop.ru".to_string(),
            "Tenant A".to_string(),
        ]);
        Ids {
            uuids: uuids.into_iter().collect(),
            long_integers: integers
                .iter()
                .copied()
                .filter(|n| n.unsigned_abs() >= 1_000_000)
                .collect(),
            integers: integers.into_iter().collect(),
            markers,
        }
    }

    /// Probes every operation of the api's OpenAPI document as described in the module
    /// documentation; panics naming the first operation that lets B in.
    pub async fn assert_isolated_on_every_route(&self) {
        let doc = self
            .app
            .call(Method::GET, "/openapi.json", None, None)
            .await
            .body;
        let ids = self.ids_of_a().await;
        assert!(
            !ids.integers.is_empty() && ids.uuids.len() > 3,
            "tenant A owns objects of every kind before the probe: {ids:?}"
        );
        let operations = operations(&doc, &ids);
        let before = self.fingerprint().await;
        let mut id_routes = 0;
        for op in &operations {
            let with_ids = filled(op, &ids);
            if !op.path_params.is_empty() {
                id_routes += 1;
            }
            for (caller, allowed) in [(&self.b, &[404][..]), (&self.b_viewer, &[404, 403][..])] {
                for path in &with_ids {
                    let answer = self
                        .app
                        .call(
                            op.method.clone(),
                            path,
                            Some(&caller.access),
                            op.body.clone(),
                        )
                        .await;
                    let what = format!("{} {path} as {}", op.method, caller.email);
                    if op.path_params.is_empty() {
                        assert_no_failure(&answer, &what);
                    } else {
                        assert!(
                            allowed.contains(&answer.status.as_u16()),
                            "{what}: expected one of {allowed:?}: {answer:#?}"
                        );
                        let code = if answer.status.as_u16() == 404 {
                            "not_found"
                        } else {
                            "forbidden"
                        };
                        answer.problem(answer.status.as_u16(), code);
                    }
                    assert_no_data_of_a(&answer.body, &ids, &what);
                }
            }
        }
        assert!(id_routes >= 4, "the document has the id-bearing routes");
        assert_eq!(
            before,
            self.fingerprint().await,
            "tenant A's rows are unchanged by tenant B's calls"
        );
        // Reads first, then writes: A reaches its own objects with the same ids.
        let mut ordered: Vec<&Operation> = operations
            .iter()
            .filter(|o| !o.path_params.is_empty())
            .collect();
        ordered.sort_by_key(|o| o.method != Method::GET);
        for op in ordered {
            let mut reached = false;
            for path in filled(op, &ids) {
                let answer = self
                    .app
                    .call(
                        op.method.clone(),
                        &path,
                        Some(&self.a.access),
                        op.body.clone(),
                    )
                    .await;
                if answer.status.is_success() {
                    reached = true;
                    break;
                }
            }
            assert!(
                reached,
                "{} {}: tenant A itself reached none of its objects with the ids tried, so \
                 B's 404s prove nothing; give tenant A such an object before probing",
                op.method, op.template
            );
        }
    }
}

/// The operations to probe: every one in the document but the excluded ones (which must
/// all be in the document, so the list cannot go stale).
fn operations(doc: &Value, ids: &Ids) -> Vec<Operation> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (template, item) in paths {
        let item = item.as_object().unwrap();
        for (key, op) in item {
            if key == "parameters" || key == "summary" || key == "description" || key == "servers" {
                continue;
            }
            assert!(
                METHODS.contains(&key.as_str()),
                "{key} {template}: not an HTTP method the probe knows"
            );
            let method = Method::from_bytes(key.to_uppercase().as_bytes()).unwrap();
            seen.insert((method.to_string(), template.clone()));
            if NOT_TENANT_SCOPED.contains(&(method.as_str(), template.as_str())) {
                continue;
            }
            let mut path_params = Vec::new();
            let mut id_query_params = Vec::new();
            let params = item
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(op["parameters"].as_array().into_iter().flatten());
            for p in params {
                let p = resolve(doc, p);
                let name = p["name"].as_str().unwrap().to_string();
                let kind = kind(doc, &p["schema"]);
                match p["in"].as_str() {
                    Some("path") => {
                        let fits = match kind {
                            Kind::Uuid => !ids.uuids.is_empty(),
                            Kind::Integer => !ids.integers.is_empty(),
                            Kind::Other => false,
                        };
                        assert!(
                            fits,
                            "{method} {template}: no id of tenant A fits path parameter \
                             {name} ({:?}); teach the probe where such values come from",
                            p["schema"]
                        );
                        path_params.push((name, kind));
                    }
                    Some("query") if name.ends_with("id") && kind != Kind::Other => {
                        id_query_params.push((name, kind));
                    }
                    _ => {}
                }
            }
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|_| {
                    example(
                        doc,
                        &op["requestBody"]["content"]["application/json"]["schema"],
                        ids,
                        0,
                    )
                });
            out.push(Operation {
                method,
                template: template.clone(),
                path_params,
                id_query_params,
                body,
            });
        }
    }
    for (method, path) in NOT_TENANT_SCOPED {
        assert!(
            seen.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is excluded from the probe but not in the document"
        );
    }
    assert!(
        out.len() >= 20,
        "the document lists the tenant routes: {} probed",
        out.len()
    );
    out
}

/// Every path (with query) to call for `op`: each path parameter, and each query parameter
/// naming an id, in turn filled with each of A's ids of its type.
fn filled(op: &Operation, ids: &Ids) -> Vec<String> {
    let values = |kind: Kind| -> Vec<String> {
        match kind {
            Kind::Uuid => ids.uuids.clone(),
            Kind::Integer => ids.integers.iter().map(i64::to_string).collect(),
            Kind::Other => Vec::new(),
        }
    };
    let mut paths = vec![op.template.clone()];
    for (name, kind) in &op.path_params {
        let placeholder = format!("{{{name}}}");
        paths = paths
            .iter()
            .flat_map(|p| values(*kind).into_iter().map(move |v| (p.clone(), v)))
            .map(|(p, v)| p.replace(&placeholder, &v))
            .collect();
    }
    let mut out = paths.clone();
    for (name, kind) in &op.id_query_params {
        for p in &paths {
            out.extend(values(*kind).into_iter().map(|v| format!("{p}?{name}={v}")));
        }
    }
    out
}

/// B's call on its own scope may be refused, but never fail on the server (503 only where
/// billing is not configured, which the document lists).
fn assert_no_failure(answer: &Answer, what: &str) {
    let status = answer.status.as_u16();
    assert!(
        status < 500 || (status == 503 && answer.body["code"] == "billing_not_configured"),
        "{what}: {answer:#?}"
    );
}

fn assert_no_data_of_a(body: &Value, ids: &Ids, what: &str) {
    let leaked = |s: &str| {
        let long = s.parse().is_ok_and(|n: i64| ids.long_integers.contains(&n));
        let marker = ids.markers.iter().find(|m| s.contains(m.as_str())).cloned();
        marker.or(long.then(|| s.to_string()))
    };
    let found = match body {
        Value::String(s) => leaked(s),
        Value::Number(n) => leaked(&n.to_string()),
        Value::Array(items) => {
            for item in items {
                assert_no_data_of_a(item, ids, what);
            }
            None
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                assert!(leaked(k).is_none(), "{what}: A's data in a key: {k}");
                assert_no_data_of_a(v, ids, what);
            }
            None
        }
        _ => None,
    };
    assert!(
        found.is_none(),
        "{what}: answered with A's data ({found:?}): {body}"
    );
}

/// Follows `$ref`s; a dangling one reads as `null` (the document's own tests catch it; the
/// probe only needs the parameters and bodies it can read).
fn resolve<'d>(doc: &'d Value, v: &'d Value) -> &'d Value {
    match v["$ref"].as_str() {
        Some(r) => match doc.pointer(r.trim_start_matches('#')) {
            Some(target) => resolve(doc, target),
            None => &Value::Null,
        },
        None => v,
    }
}

/// The schema's type, with `null` alternatives dropped.
fn type_of(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn kind(doc: &Value, schema: &Value) -> Kind {
    let schema = resolve(doc, schema);
    if let Some(first) = ["oneOf", "anyOf", "allOf"]
        .iter()
        .find_map(|k| schema[*k].as_array().and_then(|a| a.first()))
    {
        return kind(doc, first);
    }
    match (type_of(schema), schema["format"].as_str()) {
        (Some("string"), Some("uuid")) => Kind::Uuid,
        (Some("integer"), _) => Kind::Integer,
        _ => Kind::Other,
    }
}

/// A value the schema accepts, made of A's ids where an id fits.
fn example(doc: &Value, schema: &Value, ids: &Ids, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(values) = schema["enum"].as_array()
        && let Some(first) = values.iter().find(|v| !v.is_null())
    {
        return first.clone();
    }
    if let Some(first) = ["oneOf", "anyOf", "allOf"]
        .iter()
        .find_map(|k| schema[*k].as_array().and_then(|a| a.first()))
    {
        return example(doc, first, ids, depth + 1);
    }
    match type_of(schema) {
        Some("object") | None if schema["properties"].is_object() => {
            let mut out = Map::new();
            for (name, prop) in schema["properties"].as_object().unwrap() {
                let value = match (name.as_str(), kind(doc, prop)) {
                    // A field naming an object gets one of A's.
                    (n, Kind::Integer) if n.ends_with("id") => json!(ids.integers[0]),
                    (n, Kind::Other) if n.ends_with("email") => json!("probe@shop.ru"),
                    _ => example(doc, prop, ids, depth + 1),
                };
                out.insert(name.clone(), value);
            }
            Value::Object(out)
        }
        Some("string") => match schema["format"].as_str() {
            Some("uuid") => json!(ids.uuids[0]),
            Some("email") => json!("probe@shop.ru"),
            Some("date-time") => json!("2026-11-01T00:00:00Z"),
            _ => json!("probe"),
        },
        Some("integer") => json!(schema["minimum"].as_i64().unwrap_or(1)),
        Some("number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([example(doc, &schema["items"], ids, depth + 1)]),
        _ => json!({}),
    }
}
