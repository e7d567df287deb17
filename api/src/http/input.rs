//! The request input extractors, one per kind of input: [`JsonBody`], [`QueryParams`] and
//! [`PathParams`]. Unlike axum's own, every rejection is a problem document naming the field
//! at fault:
//!
//! - a body that is not JSON is 400 `malformed_json`; JSON that is not an object, or a
//!   missing or mistyped field, is 422 naming the field; an oversized body 413 and a wrong
//!   content type 415;
//! - a query parameter that does not parse is 422 `invalid_query` naming the parameter;
//! - a path parameter that does not parse names nothing that can exist, so it is 404
//!   `not_found` naming the parameter.
//!
//! Text containing the NUL character is refused everywhere (422 `invalid_text`, or 404 in a
//! path): PostgreSQL cannot store it, and nothing a seller types contains it.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON object body deserialized into `T`.
pub struct JsonBody<T>(pub T);

/// The query string deserialized into `T` (unknown parameters are ignored).
pub struct QueryParams<T>(pub T);

/// The route's path parameters deserialized into `T` (a typed id, a number, or a tuple).
pub struct PathParams<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as application/json.",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::body_too_large()
            } else {
                ApiError::bad_request("unreadable_body", "The request body could not be read.")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(QueryParams)
    }
}

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("path parameters: {e}")))?;
        let names: Vec<String> = raw.iter().map(|(name, _)| name.to_string()).collect();
        if let Some((name, _)) = raw.iter().find(|(_, value)| value.contains('\0')) {
            return Err(ApiError::path_not_found(name));
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                    ErrorKind::ParseErrorAtIndex { index, .. } => {
                        names.get(*index).cloned().unwrap_or_default()
                    }
                    // A single parameter whose own parser refused it (a malformed id).
                    _ => names.first().cloned().unwrap_or_default(),
                };
                Err(ApiError::path_not_found(&field))
            }
            Err(other) => Err(ApiError::internal(anyhow::anyhow!(
                "path parameters: {other}"
            ))),
        }
    }
}

/// Parses a JSON body that must be an object.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Parsing into a value first tells syntax (400) from shape (422) for every field:
    // serde_json reports a number where an enum is expected as a syntax error otherwise.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The body must be a JSON object.",
        ));
    }
    let value = integral_floats_as_integers(value);
    // Unknown fields are ignored (the document allows them), so only the text of fields
    // the type reads is checked for NUL.
    let mut ignored = Vec::new();
    let parsed = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value.clone(),
        &mut |path: serde_ignored::Path| ignored.push(path.to_string()),
    ))
    .map_err(|e| data_error("invalid_field", e))?;
    if let Some(field) = nul_in(&value, String::new(), &ignored) {
        return Err(ApiError::nul_in_text(&field));
    }
    Ok(parsed)
}

/// JSON Schema counts `1440.0` as an integer, serde does not: numbers without a fraction
/// become integers before deserializing (an `f64` field still takes them).
fn integral_floats_as_integers(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            // Exact: |f| < 2^53, so the float holds an integer exactly and it fits.
            #[allow(clippy::cast_possible_truncation)]
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => items.into_iter().map(integral_floats_as_integers).collect(),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Parses a query string (`a=1&b=x`, already without `?`).
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(raw.as_bytes());
    if let Some((name, _)) = pairs
        .clone()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(ApiError::nul_in_text(&name));
    }
    let de = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(de).map_err(|e| data_error("invalid_query", e))
}

/// The path of the first string holding a NUL character, if any, outside the `ignored`
/// paths (serde_ignored's form: `a.b`, `a.0`).
fn nul_in(value: &Value, path: String, ignored: &[String]) -> Option<String> {
    if ignored.contains(&path) {
        return None;
    }
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) => s.contains('\0').then_some(path.clone()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, child(&i.to_string()), ignored)),
        Value::Object(map) => map.iter().find_map(|(k, v)| nul_in(v, child(k), ignored)),
        _ => None,
    }
}

/// A shape error (missing field, wrong type, value out of range) as a 422 naming the field.
fn data_error<E: std::error::Error>(
    code: &'static str,
    err: serde_path_to_error::Error<E>,
) -> ApiError {
    let path = err.path().to_string();
    let message = err.into_inner().to_string();
    // serde reports a missing field at its parent's path, naming it in the message.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::invalid("missing_field", &field, format!("{field} is required."));
    }
    let detail = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    if path == "." {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    } else {
        ApiError::invalid(code, &path, format!("{path}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: u32,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Wb,
        Seller,
    }

    fn field(e: &ApiError) -> Option<String> {
        e.to_problem().field
    }

    #[test]
    fn json_errors_are_classified_and_name_the_field() {
        let e = parse_json::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (400, "malformed_json"));

        let e = parse_json::<Body>(br#"{"count": 1}"#).unwrap_err();
        assert_eq!(e.code(), "missing_field");
        assert_eq!(field(&e).as_deref(), Some("email"));

        let e = parse_json::<Body>(br#"{"email": "a@b.co", "count": "many"}"#).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (422, "invalid_field"));
        assert_eq!(field(&e).as_deref(), Some("count"));

        // A number where an enum is expected names the field instead of "not JSON".
        let e = parse_json::<Body>(br#"{"email": "a@b.co", "count": 1, "kind": 5}"#).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), field(&e).as_deref()),
            (422, Some("kind"))
        );

        assert!(parse_json::<Body>(br#"{"email": "a@b.co", "count": 2} trailing"#).is_err());
        assert!(parse_json::<Body>(br#"{"email": "a@b.co", "count": 2}"#).is_ok());
    }

    #[test]
    fn json_must_be_an_object_without_nul_characters() {
        let e = parse_json::<Body>(br#"["a@b.co", 2]"#).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (422, "invalid_body"));

        let e = parse_json::<Body>(br#"{"email": "a\u0000@b.co", "count": 2}"#).unwrap_err();
        assert_eq!(
            (e.code(), field(&e).as_deref()),
            ("invalid_text", Some("email"))
        );
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<u32>,
        kind: Option<Kind>,
        search: Option<String>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let q: Q = parse_query("limit=5&kind=wb&other=ignored").unwrap();
        assert_eq!(q.limit, Some(5));

        for (raw, name) in [
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("kind=shop", "kind"),
        ] {
            let e = parse_query::<Q>(raw).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code(), field(&e).as_deref()),
                (422, "invalid_query", Some(name)),
                "{raw}"
            );
        }
        let e = parse_query::<Q>("search=a%00b").unwrap_err();
        assert_eq!(
            (e.code(), field(&e).as_deref()),
            ("invalid_text", Some("search"))
        );
    }
}
