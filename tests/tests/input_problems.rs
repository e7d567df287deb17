//! Every malformed input is a problem document naming what is wrong, for every route the
//! OpenAPI document lists: a query parameter with a value its schema forbids answers 422
//! `application/problem+json` with `field` set to the parameter; a path id that cannot be an
//! id answers 404 `application/problem+json`. The cases are derived from the document the
//! app serves, so a new route or parameter is covered without touching this file.

use reqwest::Method;
use serde_json::{Value, json};
use stock_tracker_tests::TestApp;

/// One request with exactly one malformed input.
struct Case {
    method: Method,
    /// The document's path, for the report.
    route: String,
    /// The concrete path and query sent.
    url: String,
    /// What is wrong, for the report.
    what: String,
    expect: Expect,
}

enum Expect {
    /// 422 problem naming this query parameter.
    Field(String),
    /// 404 problem.
    NotFound,
}

/// Follows `$ref`s and unwraps `oneOf`/`anyOf`/`allOf` (utoipa's `Option<T>` and
/// described references) to the schema that says what the value is. A reference that
/// resolves to nothing is an error: code generators fail on it too.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    let mut schema = schema;
    for _ in 0..16 {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix("#/")
                .map(|p| p.split('/').fold(doc, |v, key| &v[key]))
                .filter(|v| !v.is_null());
            schema = target.ok_or_else(|| format!("dangling reference {r}"))?;
            continue;
        }
        let wrapped = ["allOf", "oneOf", "anyOf"].iter().find_map(|k| {
            schema[*k]
                .as_array()
                .and_then(|alts| alts.iter().find(|s| s["type"] != "null"))
        });
        match wrapped {
            Some(inner) => schema = inner,
            None => return Ok(schema),
        }
    }
    Err("reference cycle".into())
}

/// The schema's type, ignoring `null` in a type list (`["integer", "null"]`).
fn type_of(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// Values that the schema forbids, each with what makes it wrong. Every value is made of
/// URL-safe characters, so it goes into a query string as it is.
fn malformed_values(schema: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(options) = schema["enum"].as_array() {
        let bad = "not-a-variant";
        assert!(!options.contains(&json!(bad)));
        out.push((bad.to_string(), "a value outside the enum".to_string()));
        return out;
    }
    match type_of(schema) {
        Some("integer") => {
            out.push(("abc".into(), "a string where an integer is declared".into()));
            out.push((
                "1.5".into(),
                "a fraction where an integer is declared".into(),
            ));
            if let Some(min) = schema["minimum"].as_i64() {
                out.push(((min - 1).to_string(), format!("below the minimum {min}")));
            }
            if let Some(max) = schema["maximum"].as_i64() {
                out.push(((max + 1).to_string(), format!("above the maximum {max}")));
            }
            if schema["format"] == "int32" {
                out.push(("2147483648".into(), "past int32".into()));
            }
        }
        Some("number") => {
            out.push(("abc".into(), "a string where a number is declared".into()));
        }
        Some("boolean") => {
            out.push((
                "maybe".into(),
                "a string where a boolean is declared".into(),
            ));
        }
        Some("string") => {
            match schema["format"].as_str() {
                Some("date-time") => {
                    out.push(("yesterday".into(), "not a date-time".into()));
                    out.push((
                        "2026-13-45T99:00:00Z".into(),
                        "an impossible date-time".into(),
                    ));
                }
                Some("date") => out.push(("yesterday".into(), "not a date".into())),
                Some("uuid") => out.push(("not-a-uuid".into(), "not a UUID".into())),
                _ => {}
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                let long = "x".repeat(usize::try_from(max).unwrap() + 1);
                out.push((long, format!("longer than maxLength {max}")));
            }
            if schema["minLength"].as_u64().is_some_and(|min| min > 1) {
                out.push(("x".into(), "shorter than minLength".into()));
            }
        }
        _ => {}
    }
    out
}

/// A value the schema allows, for the other required parameters of a case.
fn valid_value(schema: &Value) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first
            .as_str()
            .map(str::to_string)
            .unwrap_or(first.to_string());
    }
    match (type_of(schema), schema["format"].as_str()) {
        (Some("integer" | "number"), _) => {
            schema["minimum"].as_i64().unwrap_or(1).max(1).to_string()
        }
        (Some("boolean"), _) => "true".into(),
        (_, Some("uuid")) => uuid::Uuid::new_v4().to_string(),
        (_, Some("date-time")) => "2026-01-01T00:00:00Z".into(),
        (_, Some("date")) => "2026-01-01".into(),
        _ => "x".into(),
    }
}

/// Every case the document implies, plus the document's own defects found on the way.
fn cases(doc: &Value) -> (Vec<Case>, Vec<String>) {
    let mut cases = Vec::new();
    let mut defects = Vec::new();
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (route, item) in paths {
        let shared = item["parameters"].as_array().cloned().unwrap_or_default();
        for (verb, op) in item.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(verb.to_uppercase().as_bytes()) else {
                continue;
            };
            if !op.is_object() || verb == "parameters" {
                continue;
            }
            let mut params = shared.clone();
            params.extend(op["parameters"].as_array().cloned().unwrap_or_default());
            let params: Vec<Value> = params
                .iter()
                .map(|p| resolve(doc, p).cloned().unwrap_or_else(|_| p.clone()))
                .collect();
            let mut schemas = Vec::new();
            for p in &params {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                match resolve(doc, &p["schema"]) {
                    Ok(s) => schemas.push(Some(s.clone())),
                    Err(e) => {
                        defects.push(format!("{verb} {route}: parameter {name}: {e}"));
                        schemas.push(None);
                    }
                }
            }
            // The URL with every path parameter valid, and every required query parameter
            // but `skip` given a valid value.
            let url_for = |path_override: Option<(&str, &str)>, skip: Option<&str>| {
                let mut path = route.clone();
                let mut query = Vec::new();
                for (p, s) in params.iter().zip(&schemas) {
                    let name = p["name"].as_str().unwrap_or_default();
                    let schema = s.clone().unwrap_or(Value::Null);
                    match p["in"].as_str() {
                        Some("path") => {
                            let value = match path_override {
                                Some((n, v)) if n == name => v.to_string(),
                                _ => valid_value(&schema),
                            };
                            path = path.replace(&format!("{{{name}}}"), &value);
                        }
                        Some("query") if p["required"] == true && skip != Some(name) => {
                            query.push(format!("{name}={}", valid_value(&schema)));
                        }
                        _ => {}
                    }
                }
                (path, query)
            };
            for (p, s) in params.iter().zip(&schemas) {
                let name = p["name"].as_str().unwrap_or_default();
                if p["in"] == "path" && !route.contains(&format!("{{{name}}}")) {
                    defects.push(format!(
                        "{verb} {route}: path parameter {name} is not in the path template"
                    ));
                    continue;
                }
                let Some(schema) = s else { continue };
                match p["in"].as_str() {
                    Some("query") => {
                        for (value, what) in malformed_values(schema) {
                            let (path, mut query) = url_for(None, Some(name));
                            query.push(format!("{name}={value}"));
                            cases.push(Case {
                                method: method.clone(),
                                route: route.clone(),
                                url: format!("{path}?{}", query.join("&")),
                                what: format!("query {name}={value:.40} ({what})"),
                                expect: Expect::Field(name.to_string()),
                            });
                        }
                    }
                    Some("path") => {
                        let bad = "not-an-id";
                        let (path, query) = url_for(Some((name, bad)), None);
                        let url = if query.is_empty() {
                            path
                        } else {
                            format!("{path}?{}", query.join("&"))
                        };
                        cases.push(Case {
                            method: method.clone(),
                            route: route.clone(),
                            url,
                            what: format!(
                                "path {name}={bad} ({} id)",
                                type_of(schema).unwrap_or("an")
                            ),
                            expect: Expect::NotFound,
                        });
                    }
                    _ => {}
                }
            }
        }
    }
    (cases, defects)
}

#[tokio::test]
async fn every_malformed_query_parameter_and_path_id_is_a_problem() {
    let app = TestApp::spawn().await;
    let owner = app.register("inputs@shop.ru", "Inputs").await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status.as_u16(), 200, "{doc:#?}");
    let (cases, defects) = cases(&doc.body);
    let mut failures = defects.clone();

    let query_cases = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Field(_)))
        .count();
    let path_cases = cases.len() - query_cases;
    assert!(
        query_cases > 0,
        "the document yielded no query parameter case"
    );
    assert!(path_cases > 0, "the document yielded no path id case");

    for case in &cases {
        let mut req = app
            .client
            .request(case.method.clone(), app.url(&case.url))
            .bearer_auth(&owner.access);
        // Body routes get a body, so that only the malformed input can be at fault (the
        // query and path are read before the body).
        if [Method::POST, Method::PUT, Method::PATCH].contains(&case.method) {
            req = req.json(&json!({}));
        }
        let a = app.send(req).await;
        let content_type = a
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_string();
        let mut wrong = Vec::new();
        if content_type != "application/problem+json" {
            wrong.push(format!("content-type {content_type}"));
        }
        match &case.expect {
            Expect::Field(field) => {
                if a.status.as_u16() != 422 {
                    wrong.push(format!("status {} (want 422)", a.status.as_u16()));
                }
                if a.body["field"] != json!(field) {
                    wrong.push(format!("field {} (want {field:?})", a.body["field"]));
                }
            }
            Expect::NotFound => {
                if a.status.as_u16() != 404 {
                    wrong.push(format!("status {} (want 404)", a.status.as_u16()));
                }
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} {} — {}: {} — answered: {:.160}",
                case.method,
                case.route,
                case.what,
                wrong.join(", "),
                a.text.replace('\n', " ")
            ));
        }
    }
    println!(
        "{} cases ({query_cases} query parameter, {path_cases} path id) over {} documented paths",
        cases.len(),
        doc.body["paths"].as_object().map_or(0, |p| p.len())
    );
    assert!(
        failures.is_empty(),
        "{} of {} malformed inputs were not answered as the document and the conventions say \
         (and {} defects in the document):\n{}",
        failures.len() - defects.len(),
        cases.len(),
        defects.len(),
        failures.join("\n")
    );
}
