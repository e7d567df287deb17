//! Checks an HTTP request against WB's OpenAPI 3.0 files, the way WB's gateway reads them.
//!
//! [`Spec::check`] finds the operation for (host, method, path) in any loaded file, then
//! checks the request's parameters (required ones present, every one declared, values of the
//! declared type), its security requirement (the `Authorization` header) and its JSON body
//! against the operation's `requestBody` schema, `$ref`s resolved within the file.
//!
//! A small validator for the subset of OpenAPI 3.0 the WB files use rather than a JSON Schema
//! crate: OpenAPI 3.0 is not JSON Schema (`nullable`, boolean `exclusiveMaximum`, `readOnly`
//! in requests, integer formats), and a converted schema would silently skip what it does not
//! understand. This one is loud instead: a schema keyword it does not implement is reported as
//! a violation, so a schema it cannot check never passes. It is also stricter than the files
//! in one way that matters for a client: a body property the schema does not declare is a
//! violation (WB ignores unknown fields, so a misspelt `nmId` for `nmID` would otherwise be
//! dropped without a word), unless the schema allows additional properties.
//!
//! Not checked: string formats (`date-time`, `uuid`, ...; integer formats are), `pattern`
//! (reported as unsupported if a checked schema uses it), the `style`/`explode` variants of
//! parameters other than the default form style, cookies, and responses.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// One request as it went over the wire.
#[derive(Clone, Debug)]
pub struct Request {
    /// The WB host it was meant for, like `content-api.wildberries.ru`.
    pub host: String,
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct SpecFile {
    name: String,
    doc: Value,
}

/// The loaded spec files.
pub struct Spec {
    files: Vec<SpecFile>,
}

/// One operation of one file that matches a request's method and path.
struct Candidate<'a> {
    file: &'a SpecFile,
    template: &'a str,
    item: &'a Value,
    op: &'a Value,
    path_params: Vec<(String, String)>,
}

impl Spec {
    /// Reads every `*.yaml` file in each of `dirs`.
    pub fn load(dirs: &[&Path]) -> Self {
        let mut files = Vec::new();
        for dir in dirs {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect();
            names.sort();
            for path in names {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push(Self::parse_file(
                    &path.file_name().unwrap().to_string_lossy(),
                    &text,
                ));
            }
        }
        assert!(!files.is_empty(), "no spec files in {dirs:?}");
        Self { files }
    }

    /// A spec made of in-memory files: for testing the validator itself.
    pub fn from_texts(files: &[(&str, &str)]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(name, text)| Self::parse_file(name, text))
                .collect(),
        }
    }

    fn parse_file(name: &str, text: &str) -> SpecFile {
        let doc: Value =
            serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
        assert!(
            doc.get("openapi")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("3.0")),
            "{name} is not an OpenAPI 3.0 file"
        );
        SpecFile {
            name: name.to_string(),
            doc,
        }
    }

    /// Checks one request. `Ok` names the operation it matched (`file: METHOD template`);
    /// `Err` lists every violation found.
    pub fn check(&self, request: &Request) -> Result<String, Vec<String>> {
        let op = match self.find(request) {
            Ok(op) => op,
            Err(e) => return Err(vec![e]),
        };
        let name = format!(
            "{}: {} {}",
            op.file.name,
            request.method.to_uppercase(),
            op.template
        );
        let mut out = Vec::new();
        check_parameters(&op, request, &mut out);
        check_security(&op, request, &mut out);
        check_body(&op, request, &mut out);
        if out.is_empty() {
            Ok(name)
        } else {
            Err(out.into_iter().map(|v| format!("{name}: {v}")).collect())
        }
    }

    fn find(&self, request: &Request) -> Result<Candidate<'_>, String> {
        let verb = request.method.to_lowercase();
        let mut matches: Vec<Candidate<'_>> = Vec::new();
        for file in &self.files {
            let Some(paths) = file.doc.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (template, item) in paths {
                let Some(op) = item.get(&verb) else { continue };
                if let Some(path_params) = match_path(template, &request.path) {
                    matches.push(Candidate {
                        file,
                        template,
                        item,
                        op,
                        path_params,
                    });
                }
            }
        }
        let on_host: Vec<_> = matches
            .iter()
            .filter(|c| hosts(&c.file.doc, c.item, c.op, c.template).contains(&request.host))
            .collect();
        if on_host.is_empty() {
            let elsewhere: Vec<String> = matches
                .iter()
                .map(|c| {
                    format!(
                        "{} {} on {:?}",
                        c.file.name,
                        c.template,
                        hosts(&c.file.doc, c.item, c.op, c.template)
                    )
                })
                .collect();
            return Err(if elsewhere.is_empty() {
                format!(
                    "{} {} (host {}): no such operation in any spec file",
                    request.method, request.path, request.host
                )
            } else {
                format!(
                    "{} {}: not served by {} (only {})",
                    request.method,
                    request.path,
                    request.host,
                    elsewhere.join("; ")
                )
            });
        }
        // The most literal template wins (`/api/v3/warehouses` over `/api/v3/{x}`).
        let fewest = on_host.iter().map(|c| c.path_params.len()).min().unwrap();
        let best: Vec<_> = on_host
            .into_iter()
            .filter(|c| c.path_params.len() == fewest)
            .collect();
        if best.len() > 1 {
            let names: Vec<_> = best
                .iter()
                .map(|c| format!("{} {}", c.file.name, c.template))
                .collect();
            return Err(format!(
                "{} {}: ambiguous, matches {}",
                request.method,
                request.path,
                names.join(", ")
            ));
        }
        let c = best.into_iter().next().unwrap();
        Ok(Candidate {
            file: c.file,
            template: c.template,
            item: c.item,
            op: c.op,
            path_params: c.path_params.clone(),
        })
    }
}

/// The path parameters if `path` fits `template`.
fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let t: Vec<_> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<_> = path.trim_end_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (t, p) in t.iter().zip(&p) {
        match t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            Some(name) if !p.is_empty() => params.push((name.to_string(), (*p).to_string())),
            Some(_) => return None,
            None if t == p => {}
            None => return None,
        }
    }
    Some(params)
}

/// The hosts an operation is served on: its `servers` (operation, path or file level), plus
/// the `https://<host><template>` URLs its description lists (WB's `/ping` names every
/// host in a table instead of in `servers`).
fn hosts(doc: &Value, item: &Value, op: &Value, template: &str) -> BTreeSet<String> {
    let servers = [op, item, doc]
        .into_iter()
        .find_map(|v| v.get("servers").and_then(Value::as_array));
    let mut out: BTreeSet<String> = servers
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(Value::as_str))
        .filter_map(|url| url.split("://").nth(1))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
        .collect();
    let description = op
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for part in description.split("https://").skip(1) {
        let url: String = part
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '`' | '<' | '"' | ')' | '|'))
            .collect();
        if let Some((host, path)) = url.split_once('/')
            && format!("/{path}") == template
        {
            out.insert(host.to_string());
        }
    }
    out
}

/// Follows `$ref`s within the file.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return Ok(v);
        };
        let pointer = r
            .strip_prefix('#')
            .ok_or_else(|| format!("`$ref: {r}` points outside the file"))?;
        v = doc
            .pointer(pointer)
            .ok_or_else(|| format!("`$ref: {r}` points nowhere"))?;
    }
    Err("a `$ref` chain longer than 32".to_string())
}

fn check_parameters(op: &Candidate<'_>, request: &Request, out: &mut Vec<String>) {
    let doc = &op.file.doc;
    // Operation parameters override path-level ones of the same name and location.
    let mut params: Vec<&Value> = Vec::new();
    for list in [op.op, op.item].map(|v| v.get("parameters").and_then(Value::as_array)) {
        for p in list.into_iter().flatten() {
            match resolve(doc, p) {
                Ok(p) => {
                    let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
                    if !params.iter().any(|q| key(q) == key(p)) {
                        params.push(p);
                    }
                }
                Err(e) => out.push(format!("parameter: {e}")),
            }
        }
    }
    let declared = |place: &str, name: &str| {
        params.iter().any(|p| {
            p.get("in").and_then(Value::as_str) == Some(place)
                && p.get("name").and_then(Value::as_str) == Some(name)
        })
    };
    for (name, _) in &request.query {
        if !declared("query", name) {
            out.push(format!("query parameter `{name}` is not in the spec"));
        }
    }
    for (name, _) in &op.path_params {
        if !declared("path", name) {
            out.push(format!("path parameter `{{{name}}}` is not declared"));
        }
    }
    for p in params {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let place = p.get("in").and_then(Value::as_str).unwrap_or_default();
        let required = p.get("required").and_then(Value::as_bool) == Some(true);
        let raw: Vec<&str> = match place {
            "path" => values(&op.path_params, name),
            "query" => values(&request.query, name),
            "header" => request.header(name).into_iter().collect(),
            _ => {
                if required {
                    out.push(format!("{place} parameter `{name}` is not supported"));
                }
                continue;
            }
        };
        if raw.is_empty() {
            if required {
                out.push(format!("required {place} parameter `{name}` is missing"));
            }
            continue;
        }
        let Some(schema) = p.get("schema") else {
            out.push(format!(
                "{place} parameter `{name}`: only `schema` parameters are supported"
            ));
            continue;
        };
        match coerce(doc, schema, &raw) {
            Ok(value) => Validator::new(doc, out).check(
                &value,
                schema,
                &format!("{place} parameter `{name}`"),
            ),
            Err(e) => out.push(format!("{place} parameter `{name}`: {e}")),
        }
    }
}

/// The values sent under `name`, in order.
fn values<'r>(pairs: &'r [(String, String)], name: &str) -> Vec<&'r str> {
    pairs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A parameter's text as the JSON value its schema describes (form style, exploded).
fn coerce(doc: &Value, schema: &Value, raw: &[&str]) -> Result<Value, String> {
    let schema = resolve(doc, schema)?;
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    if kind == "array" {
        let items = schema.get("items").unwrap_or(&Value::Null);
        return raw
            .iter()
            .map(|r| coerce(doc, items, &[r]))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    let [one] = raw else {
        return Err(format!("sent {} times, declared as one {kind}", raw.len()));
    };
    let bad = || format!("`{one}` is not a {kind}");
    Ok(match kind {
        "integer" => one
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| one.parse::<u64>().map(Value::from))
            .map_err(|_| bad())?,
        "number" => one
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)?,
        "boolean" => match *one {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        "string" => Value::String((*one).to_string()),
        other => return Err(format!("parameters of type {other} are not supported")),
    })
}

fn check_security(op: &Candidate<'_>, request: &Request, out: &mut Vec<String>) {
    let doc = &op.file.doc;
    let Some(alternatives) = [op.op, doc]
        .into_iter()
        .find_map(|v| v.get("security").and_then(Value::as_array))
    else {
        return;
    };
    if alternatives.is_empty() {
        return;
    }
    let mut missing = Vec::new();
    for alternative in alternatives {
        let Some(schemes) = alternative.as_object() else {
            continue;
        };
        let mut lacks = Vec::new();
        for name in schemes.keys() {
            let scheme = doc
                .pointer(&format!("/components/securitySchemes/{name}"))
                .map(|s| resolve(doc, s));
            let lack = match scheme {
                Some(Ok(s)) => scheme_lack(s, request),
                Some(Err(e)) => Some(format!("security scheme {name}: {e}")),
                None => Some(format!("security scheme {name} is not defined")),
            };
            lacks.extend(lack);
        }
        if lacks.is_empty() {
            return;
        }
        missing.push(lacks.join(" and "));
    }
    out.push(format!(
        "no security requirement is met: {}",
        missing.join("; or ")
    ));
}

/// What a request lacks for one security scheme, if anything.
fn scheme_lack(scheme: &Value, request: &Request) -> Option<String> {
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or_default();
    match (field("type"), field("in")) {
        ("apiKey", "header") => {
            let name = field("name");
            (request.header(name).is_none_or(|v| v.trim().is_empty()))
                .then(|| format!("the `{name}` header"))
        }
        ("apiKey", "query") => {
            let name = field("name");
            (!request.query.iter().any(|(n, _)| n == name))
                .then(|| format!("the `{name}` query parameter"))
        }
        ("http", _) if field("scheme").eq_ignore_ascii_case("bearer") => (!request
            .header("authorization")
            .is_some_and(|v| v.starts_with("Bearer ")))
        .then(|| "a bearer `Authorization` header".to_string()),
        (kind, place) => Some(format!(
            "a `{kind}` scheme in `{place}`, which this validator does not support"
        )),
    }
}

fn check_body(op: &Candidate<'_>, request: &Request, out: &mut Vec<String>) {
    let doc = &op.file.doc;
    let body = match op.op.get("requestBody").map(|b| resolve(doc, b)) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            out.push(format!("requestBody: {e}"));
            return;
        }
    };
    let sent = !request.body.is_empty();
    let Some(body) = body else {
        if sent {
            out.push("sends a body; the operation takes none".to_string());
        }
        return;
    };
    if !sent {
        if body.get("required").and_then(Value::as_bool) == Some(true) {
            out.push("the request body is required but none was sent".to_string());
        }
        return;
    }
    let media = request
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let content = body.get("content").and_then(Value::as_object);
    let Some(schema) = content.and_then(|c| c.get(&media)).map(|m| m.get("schema")) else {
        let accepted: Vec<_> = content.into_iter().flat_map(Map::keys).collect();
        out.push(format!(
            "body sent as `{media}`; the operation takes {accepted:?}"
        ));
        return;
    };
    if media != "application/json" {
        out.push(format!("bodies of type {media} are not supported"));
        return;
    }
    let value: Value = match serde_json::from_slice(&request.body) {
        Ok(v) => v,
        Err(e) => {
            out.push(format!("the body is not JSON: {e}"));
            return;
        }
    };
    if let Some(schema) = schema {
        Validator::new(doc, out).check(&value, schema, "body");
    }
}

/// Keywords that only describe.
const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "default",
    "title",
    "deprecated",
    "externalDocs",
    "xml",
    "writeOnly",
    "discriminator",
];

/// Keywords [`Validator`] checks.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "format",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "readOnly",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "minProperties",
    "maxProperties",
];

/// OpenAPI 3.0 Schema Object validation of request values.
struct Validator<'a, 'o> {
    doc: &'a Value,
    out: &'o mut Vec<String>,
}

impl<'a, 'o> Validator<'a, 'o> {
    fn new(doc: &'a Value, out: &'o mut Vec<String>) -> Self {
        Self { doc, out }
    }

    fn check(&mut self, value: &Value, schema: &Value, at: &str) {
        self.check_in(value, schema, at, false);
    }

    /// Whether `value` fits `schema`, without reporting.
    fn fits(&self, value: &Value, schema: &Value, at: &str) -> bool {
        let mut out = Vec::new();
        Validator::new(self.doc, &mut out).check(value, schema, at);
        out.is_empty()
    }

    /// `in_all_of`: the schema is one part of an `allOf`, so properties it does not declare
    /// may be declared by another part.
    fn check_in(&mut self, value: &Value, schema: &Value, at: &str, in_all_of: bool) {
        let schema = match resolve(self.doc, schema) {
            Ok(s) => s,
            Err(e) => return self.out.push(format!("{at}: {e}")),
        };
        let Some(s) = schema.as_object() else {
            return self.out.push(format!("{at}: the schema is not an object"));
        };
        for key in s.keys() {
            let known = CHECKED.contains(&key.as_str())
                || ANNOTATIONS.contains(&key.as_str())
                || key.starts_with("x-");
            if !known {
                self.out.push(format!(
                    "{at}: the schema uses `{key}`, which this validator does not check"
                ));
            }
        }
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        let flag = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
        let kind = s.get("type").and_then(Value::as_str);

        if value.is_null() {
            // OpenAPI 3.0: null is allowed by `nullable: true`, or by a schema without a type.
            if kind.is_some() && !flag("nullable") {
                self.out
                    .push(format!("{at}: null, but the schema is not nullable"));
            }
            return;
        }
        if let Some(kind) = kind {
            let fits = match kind {
                "integer" => {
                    value.is_i64()
                        || value.is_u64()
                        || value.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                "number" => value.is_number(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                other => {
                    self.out.push(format!("{at}: unknown type `{other}`"));
                    true
                }
            };
            if !fits {
                return self
                    .out
                    .push(format!("{at}: {} is not of type {kind}", brief(value)));
            }
        }
        if let (Some(format), Some(n)) = (s.get("format").and_then(Value::as_str), value.as_f64()) {
            let range = match format {
                "int32" => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
                "uint32" => Some((0.0, f64::from(u32::MAX))),
                "int64" => Some((-9.223_372_036_854_776e18, 9.223_372_036_854_776e18)),
                "uint64" => Some((0.0, 1.844_674_407_370_955_2e19)),
                _ => None,
            };
            if let Some((lo, hi)) = range
                && !(lo..=hi).contains(&n)
            {
                self.out
                    .push(format!("{at}: {n} is outside the range of {format}"));
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array)
            && !options.iter().any(|o| same(o, value))
        {
            self.out.push(format!(
                "{at}: {} is not one of {}",
                brief(value),
                brief(&Value::Array(options.clone()))
            ));
        }
        if let Some(n) = value.as_f64() {
            self.check_number(s, n, at);
        }
        if let Some(text) = value.as_str() {
            let len = text.chars().count() as f64;
            if num("minLength").is_some_and(|m| len < m)
                || num("maxLength").is_some_and(|m| len > m)
            {
                self.out.push(format!(
                    "{at}: a string of {len} characters is outside its bounds"
                ));
            }
        }
        if let Some(items) = value.as_array() {
            self.check_array(s, items, at);
        }
        if let Some(object) = value.as_object() {
            self.check_object(s, object, at, in_all_of);
        }
        for part in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check_in(value, part, at, true);
        }
        if let Some(parts) = s.get("anyOf").and_then(Value::as_array)
            && !parts.iter().any(|p| self.fits(value, p, at))
        {
            self.out.push(format!("{at}: fits none of `anyOf`"));
        }
        if let Some(parts) = s.get("oneOf").and_then(Value::as_array) {
            let fitting = parts.iter().filter(|p| self.fits(value, p, at)).count();
            if fitting != 1 {
                self.out
                    .push(format!("{at}: fits {fitting} parts of `oneOf`, not one"));
            }
        }
        if let Some(not) = s.get("not")
            && self.fits(value, not, at)
        {
            self.out.push(format!("{at}: fits the schema under `not`"));
        }
    }

    fn check_number(&mut self, s: &Map<String, Value>, n: f64, at: &str) {
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        let flag = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
        if let Some(min) = num("minimum")
            && (n < min || (flag("exclusiveMinimum") && n == min))
        {
            self.out
                .push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = num("maximum")
            && (n > max || (flag("exclusiveMaximum") && n == max))
        {
            self.out
                .push(format!("{at}: {n} is above the maximum {max}"));
        }
        if let Some(step) = num("multipleOf")
            && step > 0.0
            && (n / step).fract() != 0.0
        {
            self.out
                .push(format!("{at}: {n} is not a multiple of {step}"));
        }
    }

    fn check_array(&mut self, s: &Map<String, Value>, items: &[Value], at: &str) {
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        let len = items.len() as f64;
        if num("minItems").is_some_and(|m| len < m) {
            self.out
                .push(format!("{at}: {len} items, fewer than minItems"));
        }
        if let Some(max) = num("maxItems")
            && len > max
        {
            self.out
                .push(format!("{at}: {len} items, more than maxItems {max}"));
        }
        if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|o| same(o, item)) {
                    self.out.push(format!("{at}[{i}]: repeats an earlier item"));
                }
            }
        }
        if let Some(schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check_in(item, schema, &format!("{at}[{i}]"), false);
            }
        }
    }

    fn check_object(
        &mut self,
        s: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        in_all_of: bool,
    ) {
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        let len = object.len() as f64;
        if num("minProperties").is_some_and(|m| len < m)
            || num("maxProperties").is_some_and(|m| len > m)
        {
            self.out
                .push(format!("{at}: {len} properties, outside its bounds"));
        }
        let properties = s.get("properties").and_then(Value::as_object);
        let doc = self.doc;
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            // A read-only property is required in answers only.
            let read_only = properties
                .and_then(|p| p.get(name))
                .and_then(|p| resolve(doc, p).ok())
                .and_then(|p| p.get("readOnly"))
                .and_then(Value::as_bool)
                == Some(true);
            if !object.contains_key(name) && !read_only {
                self.out
                    .push(format!("{at}: required property `{name}` is missing"));
            }
        }
        for (name, value) in object {
            let path = format!("{at}.{name}");
            if let Some(schema) = properties.and_then(|p| p.get(name)) {
                if resolve(doc, schema)
                    .ok()
                    .and_then(|p| p.get("readOnly"))
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    self.out.push(format!("{path}: read-only, not to be sent"));
                }
                self.check_in(value, schema, &path, false);
                continue;
            }
            match s.get("additionalProperties") {
                Some(Value::Bool(false)) => self
                    .out
                    .push(format!("{path}: not allowed (additionalProperties: false)")),
                Some(Value::Bool(true)) => {}
                Some(schema) => self.check_in(value, schema, &path, false),
                // Open by the letter of the spec, but WB drops what it does not know: a
                // property no part of the schema declares is our mistake.
                None if !in_all_of && !declared_in_all_of(doc, s, name) => {
                    self.out.push(format!(
                        "{path}: not in the schema (WB would ignore it silently)"
                    ));
                }
                None => {}
            }
        }
    }
}

/// Whether an `allOf` part of `s` declares `name` or allows any property.
fn declared_in_all_of(doc: &Value, s: &Map<String, Value>, name: &str) -> bool {
    s.get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| resolve(doc, p).ok().and_then(Value::as_object))
        .any(|p| {
            p.get("properties")
                .and_then(Value::as_object)
                .is_some_and(|props| props.contains_key(name))
                || p.get("additionalProperties")
                    .is_some_and(|a| a != &Value::Bool(false))
                || declared_in_all_of(doc, p, name)
        })
}

/// JSON equality with 1 and 1.0 the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A value shortened for a message.
fn brief(value: &Value) -> String {
    let mut text = String::new();
    let _ = write!(text, "{value}");
    if text.len() > 60 {
        let cut: String = text.chars().take(60).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    //! The validator must be able to fail: wrong requests against a small spec written the
    //! way WB's files are.

    use super::*;

    const SPEC: &str = r##"
openapi: 3.0.1
info: {title: test, version: "1"}
security:
  - HeaderApiKey: []
paths:
  /ping:
    servers:
      - url: https://common-api.wildberries.ru
    get:
      description: |
        | Контент | `https://content-api.wildberries.ru/ping` |
      responses: {}
  /api/v3/stocks/{warehouseId}:
    servers:
      - url: https://marketplace-api.wildberries.ru
    post:
      parameters:
        - $ref: '#/components/parameters/Warehouse'
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/StocksRequest'
      responses: {}
  /api/v1/report:
    servers:
      - url: https://seller-analytics-api.wildberries.ru
    get:
      security: []
      parameters:
        - {name: dateFrom, in: query, required: true, schema: {type: string}}
        - {name: flag, in: query, schema: {type: integer, enum: [0, 1]}}
        - {name: brief, in: query, schema: {type: boolean}}
      responses: {}
components:
  securitySchemes:
    HeaderApiKey: {type: apiKey, name: Authorization, in: header}
  parameters:
    Warehouse:
      name: warehouseId
      in: path
      required: true
      schema: {type: integer, format: int64}
  schemas:
    StocksRequest:
      type: object
      required: [chrtIds]
      properties:
        chrtIds:
          type: array
          maxItems: 2
          items: {type: integer}
        cursor:
          type: object
          properties:
            updatedAt: {type: string, nullable: true}
            limit: {type: integer, maximum: 100}
            nmID: {type: integer, format: uint32}
        mode:
          allOf:
            - type: object
              properties: {a: {type: string}}
            - type: object
              properties: {b: {type: string}}
"##;

    fn spec() -> Spec {
        Spec::from_texts(&[("test.yaml", SPEC)])
    }

    fn post(body: &str) -> Request {
        Request {
            host: "marketplace-api.wildberries.ru".into(),
            method: "POST".into(),
            path: "/api/v3/stocks/7".into(),
            query: vec![],
            headers: vec![
                ("authorization".into(), "token".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn violations(request: &Request) -> String {
        match spec().check(request) {
            Ok(op) => panic!("{request:?} passed as {op}"),
            Err(v) => v.join("\n"),
        }
    }

    #[test]
    fn a_right_request_passes() {
        let ok = spec().check(&post(
            r#"{"chrtIds": [1, 2], "cursor": {"updatedAt": null, "limit": 100, "nmID": 5},
                "mode": {"a": "x", "b": "y"}}"#,
        ));
        assert_eq!(
            ok,
            Ok("test.yaml: POST /api/v3/stocks/{warehouseId}".into())
        );
        let mut ping = post("");
        ping.method = "GET".into();
        ping.path = "/ping".into();
        for host in ["common-api.wildberries.ru", "content-api.wildberries.ru"] {
            ping.host = host.into();
            assert!(spec().check(&ping).is_ok(), "{host}");
        }
    }

    #[test]
    fn a_wrong_body_field_type_is_a_violation() {
        let v = violations(&post(r#"{"chrtIds": ["1", 2]}"#));
        assert!(
            v.contains("body.chrtIds[0]: \"1\" is not of type integer"),
            "{v}"
        );
        let v = violations(&post(r#"{"chrtIds": [], "cursor": {"limit": 1.5}}"#));
        assert!(
            v.contains("body.cursor.limit: 1.5 is not of type integer"),
            "{v}"
        );
        let v = violations(&post(r#"{"chrtIds": [], "cursor": {"nmID": -1}}"#));
        assert!(v.contains("outside the range of uint32"), "{v}");
        let v = violations(&post(r#"{"chrtIds": [], "cursor": {"limit": null}}"#));
        assert!(
            v.contains("body.cursor.limit: null, but the schema is not nullable"),
            "{v}"
        );
    }

    #[test]
    fn bounds_required_and_unknown_properties_are_violations() {
        let v = violations(&post(r#"{"chrtIds": [1, 2, 3], "cursor": {"limit": 101}}"#));
        assert!(v.contains("3 items, more than maxItems 2"), "{v}");
        assert!(v.contains("101 is above the maximum 100"), "{v}");
        let v = violations(&post(r#"{"cursor": {}}"#));
        assert!(v.contains("required property `chrtIds` is missing"), "{v}");
        // A misspelt field: WB would drop it without a word.
        let v = violations(&post(r#"{"chrtIds": [], "cursor": {"nmId": 5}}"#));
        assert!(v.contains("body.cursor.nmId: not in the schema"), "{v}");
        let v = violations(&post(r#"{"chrtIds": [], "mode": {"c": "x"}}"#));
        assert!(v.contains("body.mode.c: not in the schema"), "{v}");
    }

    #[test]
    fn an_unknown_path_or_host_is_a_violation() {
        let mut r = post(r#"{"chrtIds": []}"#);
        r.path = "/api/v3/stock/7".into();
        assert!(violations(&r).contains("no such operation in any spec file"));
        let mut r = post(r#"{"chrtIds": []}"#);
        r.method = "PUT".into();
        assert!(violations(&r).contains("no such operation in any spec file"));
        let mut r = post(r#"{"chrtIds": []}"#);
        r.host = "content-api.wildberries.ru".into();
        assert!(violations(&r).contains("not served by content-api.wildberries.ru"));
    }

    #[test]
    fn parameters_headers_and_bodies_are_checked() {
        let mut r = post(r#"{"chrtIds": []}"#);
        r.path = "/api/v3/stocks/main".into();
        assert!(violations(&r).contains("path parameter `warehouseId`: `main` is not a integer"));

        let mut r = post(r#"{"chrtIds": []}"#);
        r.headers.retain(|(n, _)| n != "authorization");
        assert!(violations(&r).contains("the `Authorization` header"));

        let r = post("");
        assert!(violations(&r).contains("the request body is required"));
        let mut r = post("{}");
        r.headers[1].1 = "text/plain".into();
        assert!(violations(&r).contains("body sent as `text/plain`"));

        let report = |query: &[(&str, &str)], body: &str| Request {
            host: "seller-analytics-api.wildberries.ru".into(),
            method: "GET".into(),
            path: "/api/v1/report".into(),
            query: query
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                .collect(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert!(
            spec()
                .check(&report(&[("dateFrom", "2026-11-01"), ("flag", "1")], ""))
                .is_ok()
        );
        let v = violations(&report(
            &[("flag", "2"), ("brief", "yes"), ("limit", "5")],
            "{}",
        ));
        for expected in [
            "required query parameter `dateFrom` is missing",
            "query parameter `flag`: 2 is not one of [0,1]",
            "query parameter `brief`: `yes` is not a boolean",
            "query parameter `limit` is not in the spec",
            "sends a body; the operation takes none",
        ] {
            assert!(v.contains(expected), "{expected} in {v}");
        }
    }

    #[test]
    fn schema_keywords_it_cannot_check_are_violations() {
        let spec = SPEC.replace("maxItems: 2", "pattern: '^x'");
        let v = Spec::from_texts(&[("test.yaml", &spec)])
            .check(&post(r#"{"chrtIds": []}"#))
            .unwrap_err()
            .join("\n");
        assert!(
            v.contains("uses `pattern`, which this validator does not check"),
            "{v}"
        );
    }
}
