//! Quota headers on API-key responses: the auth extractor counts the call and leaves the
//! tenant's standing in a slot this middleware put on the request; on the way out it
//! becomes `X-Quota-Limit`, `X-Quota-Remaining` and `X-Quota-Reset` (Unix seconds).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use stock_tracker_shared::billing::usage::Quota;

#[derive(Clone, Default)]
pub struct QuotaSlot(Arc<Mutex<Option<Quota>>>);

impl QuotaSlot {
    pub fn set(&self, quota: Quota) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(quota);
    }

    fn take(&self) -> Option<Quota> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let slot = QuotaSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    if let Some(quota) = slot.take() {
        let headers = response.headers_mut();
        headers.insert("x-quota-limit", HeaderValue::from(quota.limit));
        headers.insert("x-quota-remaining", HeaderValue::from(quota.remaining()));
        headers.insert(
            "x-quota-reset",
            HeaderValue::from(quota.resets_at.timestamp()),
        );
    }
    response
}
