//! Cached tenant reads. Each answer carries `X-Cache` (HIT or MISS), `X-Cache-TTL` (seconds
//! left), `Cache-Control` to match, and `X-Data-Synced-At`, the time of the sync the data
//! comes from. With Redis down every read is a MISS served from PostgreSQL.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::time::Duration;
use stock_tracker_shared::cache::Lookup;
use stock_tracker_shared::ids::TenantId;

pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub static X_CACHE_TTL: HeaderName = HeaderName::from_static("x-cache-ttl");
pub static X_DATA_SYNCED_AT: HeaderName = HeaderName::from_static("x-data-synced-at");

/// Answers from the cache, or computes, stores and answers. `name` must identify the
/// request completely (route and normalised parameters).
pub async fn cached<T, F>(
    state: &AppState,
    tenant: TenantId,
    name: &str,
    compute: F,
) -> ApiResult<Response>
where
    T: Serialize,
    F: Future<Output = ApiResult<(T, Option<DateTime<Utc>>)>>,
{
    let store_key = match state.cache.get(tenant, name).await {
        Lookup::Hit { value, ttl_left } => {
            state.app_metrics.cache_lookup(true);
            return Ok(from_stored(&value, ttl_left));
        }
        Lookup::Miss { store_key } => {
            state.app_metrics.cache_lookup(false);
            store_key
        }
    };
    let (body, synced_at) = compute.await?;
    let body = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
    let synced = synced_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    if let Some(key) = store_key {
        let mut stored = synced.clone().unwrap_or_default().into_bytes();
        stored.push(b'\n');
        stored.extend_from_slice(&body);
        state.cache.put(&key, &stored).await;
    }
    Ok(respond(body, synced.as_deref(), false, state.cache.ttl()))
}

fn from_stored(value: &[u8], ttl_left: Duration) -> Response {
    let split = value.iter().position(|b| *b == b'\n').unwrap_or(0);
    let synced = std::str::from_utf8(&value[..split])
        .ok()
        .filter(|s| !s.is_empty());
    let body = value.get(split + 1..).unwrap_or_default().to_vec();
    respond(body, synced, true, ttl_left)
}

fn respond(body: Vec<u8>, synced_at: Option<&str>, hit: bool, ttl: Duration) -> Response {
    let secs = ttl.as_secs();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let h = response.headers_mut();
    h.insert(
        X_CACHE.clone(),
        HeaderValue::from_static(if hit { "HIT" } else { "MISS" }),
    );
    h.insert(X_CACHE_TTL.clone(), HeaderValue::from(secs));
    // Private: the answer is one tenant's data and must not sit in shared caches.
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={secs}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Some(v) = synced_at.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert(X_DATA_SYNCED_AT.clone(), v);
    }
    response
}
