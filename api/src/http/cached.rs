//! Cached tenant reads. Each answer carries `X-Cache` (HIT or MISS), `X-Cache-TTL` (seconds
//! left), `Cache-Control` to match, and `X-Data-Synced-At`, the time of the sync the data
//! comes from. With Redis down every read is a MISS served from PostgreSQL (the process's
//! own layer goes dark with the Redis subscription that keeps it honest).

use crate::error::ApiResult;
use crate::http::app_metrics::CacheLayer;
use crate::http::process_cache::Answer;
use crate::state::AppState;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::time::Duration;
use stock_tracker_shared::cache::Lookup;
use stock_tracker_shared::ids::TenantId;

pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub static X_CACHE_TTL: HeaderName = HeaderName::from_static("x-cache-ttl");
pub static X_DATA_SYNCED_AT: HeaderName = HeaderName::from_static("x-data-synced-at");

/// Answers from this process's layer, else Redis, else computes; each layer keeps what the
/// one behind it answered. `name` must identify the request completely (route and
/// normalised parameters). The answer is serialised once; the process layer holds those
/// bytes and Redis gets a copy, written after the answer has gone out.
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
    let ttl = state.cache.ttl();
    // Taken before any lookup, so an invalidation that comes while this request is
    // answered refuses what it would keep (see `process_cache`).
    let ticket = if ttl.is_zero() {
        None
    } else {
        state.process_cache.ticket(tenant)
    };
    if let Some(t) = ticket
        && let Some((answer, left)) = state.process_cache.answer(t, tenant, name)
    {
        state.app_metrics.cache_lookup(CacheLayer::Process);
        return Ok(respond(answer, true, left));
    }
    let store_key = match state.cache.get(tenant, name).await {
        Lookup::Hit { value, ttl_left } => {
            state.app_metrics.cache_lookup(CacheLayer::Redis);
            let answer = from_stored(value);
            if let Some(t) = ticket {
                state
                    .process_cache
                    .keep_answer(t, tenant, name, answer.clone(), ttl_left);
            }
            return Ok(respond(answer, true, ttl_left));
        }
        Lookup::Miss { store_key } => {
            state.app_metrics.cache_lookup(CacheLayer::Miss);
            store_key
        }
    };
    let (body, synced_at) = compute.await?;
    let body = Bytes::from(serde_json::to_vec(&body).map_err(anyhow::Error::from)?);
    let synced = synced_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    let answer = Answer {
        body,
        synced_at: synced
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok()),
    };
    if let Some(t) = ticket {
        state
            .process_cache
            .keep_answer(t, tenant, name, answer.clone(), ttl);
    }
    if let Some(key) = store_key {
        let mut stored = synced.unwrap_or_default().into_bytes();
        stored.push(b'\n');
        stored.extend_from_slice(&answer.body);
        let cache = state.cache.clone();
        tokio::spawn(async move { cache.put(&key, &stored).await });
    }
    Ok(respond(answer, false, ttl))
}

/// A Redis entry: the sync time, a newline, the body.
fn from_stored(value: Vec<u8>) -> Answer {
    let mut body = Bytes::from(value);
    let split = body.iter().position(|b| *b == b'\n').unwrap_or(0);
    let head = body.split_to(split);
    if !body.is_empty() {
        body.advance(1);
    }
    let synced_at = (!head.is_empty())
        .then(|| HeaderValue::from_maybe_shared(head).ok())
        .flatten();
    Answer { body, synced_at }
}

fn respond(answer: Answer, hit: bool, ttl: Duration) -> Response {
    let secs = ttl.as_secs();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], answer.body).into_response();
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
    if let Some(v) = answer.synced_at {
        h.insert(X_DATA_SYNCED_AT.clone(), v);
    }
    response
}
