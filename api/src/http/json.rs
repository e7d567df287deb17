//! The JSON body extractor. Unlike axum's, every rejection is a problem document: malformed
//! JSON is 400 `malformed_json`, a missing or mistyped field is 422 naming the field, an
//! oversized body is 413 and a wrong content type 415.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T);

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
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "The request body is larger than this endpoint accepts.",
                )
            } else {
                ApiError::bad_request("unreadable_body", "The request body could not be read.")
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(from_serde)?;
    de.end().map_err(|e| {
        ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {e}"))
    })?;
    Ok(value)
}

fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = inner.to_string();
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
            let field = if path == "." { String::new() } else { path };
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail);
            if !field.is_empty() {
                e = e.with_field(field);
            }
            e
        }
        _ => ApiError::bad_request(
            "malformed_json",
            format!("The body is not valid JSON: {inner}"),
        ),
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
    }

    #[test]
    fn classifies_errors_and_names_fields() {
        let e = parse::<Body>(b"{\"email\": ").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (400, "malformed_json"));

        let e = parse::<Body>(br#"{"count": 1}"#).unwrap_err();
        assert_eq!(e.code(), "missing_field");
        assert_eq!(e.to_problem().field.as_deref(), Some("email"));

        let e = parse::<Body>(br#"{"email": "a@b.co", "count": "many"}"#).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (422, "invalid_field"));
        assert_eq!(e.to_problem().field.as_deref(), Some("count"));

        assert!(parse::<Body>(br#"{"email": "a@b.co", "count": 2} trailing"#).is_err());
        assert!(parse::<Body>(br#"{"email": "a@b.co", "count": 2}"#).is_ok());
    }
}
