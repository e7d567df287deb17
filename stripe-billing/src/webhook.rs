//! Stripe's webhook signature (`Stripe-Signature: t=…,v1=…`), checked on the raw body
//! against every configured secret, and the few fields of a verified event that processing
//! needs. Processing itself (once per event, in the tenant's data) lives in `shared`.

use serde::Deserialize;
use stock_tracker_infra::Secret;
use stripe_webhook::Webhook;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the Stripe-Signature header is missing or malformed")]
    BadHeader,
    #[error("no webhook secret signed this body")]
    BadSignature,
    #[error("the signature's timestamp is more than 300 seconds away")]
    StaleTimestamp,
    #[error("the body is not a Stripe event")]
    BadPayload,
}

/// A verified event: what processing needs of it.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: EventObject,
}

/// The fields of a subscription, checkout session or invoice that lead to a tenant and a
/// subscription.
#[derive(Debug, Deserialize)]
struct EventObject {
    object: String,
    id: String,
    customer: Option<String>,
    subscription: Option<String>,
    parent: Option<InvoiceParent>,
}

#[derive(Debug, Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Deserialize)]
struct SubscriptionDetails {
    subscription: Option<String>,
}

impl Event {
    pub fn customer(&self) -> Option<&str> {
        self.data.object.customer.as_deref()
    }

    /// The subscription the event is about.
    pub fn subscription(&self) -> Option<&str> {
        let o = &self.data.object;
        match o.object.as_str() {
            "subscription" => Some(o.id.as_str()),
            // Invoices name it under parent since API version 2025-03-31, directly before.
            _ => o.subscription.as_deref().or_else(|| {
                o.parent
                    .as_ref()
                    .and_then(|p| p.subscription_details.as_ref())
                    .and_then(|d| d.subscription.as_deref())
            }),
        }
    }
}

/// How far a signature's timestamp may be from now.
const TOLERANCE_SECS: i64 = 300;

/// Checks the signature against every configured secret (several during a rotation) and
/// the timestamp against a 300-second tolerance, on the body exactly as received.
///
/// The HMAC is async-stripe's (`generate_test_header` computes exactly what Stripe sends);
/// its `construct_event` is not used because it also parses the event into the SDK's types
/// for its pinned API version and refuses any event whose shape differs, while we need
/// only a few fields and re-read the subscription anyway.
pub fn verify(body: &[u8], signature: &str, secrets: &[Secret<String>]) -> Result<Event, Rejected> {
    let payload = std::str::from_utf8(body).map_err(|_| Rejected::BadSignature)?;
    let (timestamp, candidates) = parse_header(signature).ok_or(Rejected::BadHeader)?;
    let signed = secrets.iter().any(|secret| {
        let expected = Webhook::generate_test_header(payload, secret.expose(), Some(timestamp));
        let expected = expected.rsplit("v1=").next().unwrap_or_default();
        candidates
            .iter()
            .any(|c| constant_time_eq(c.as_bytes(), expected.as_bytes()))
    });
    if !signed {
        return Err(Rejected::BadSignature);
    }
    if (chrono::Utc::now().timestamp() - timestamp).abs() > TOLERANCE_SECS {
        return Err(Rejected::StaleTimestamp);
    }
    serde_json::from_str(payload).map_err(|_| Rejected::BadPayload)
}

/// `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` (other schemes are ignored, as Stripe advises).
fn parse_header(header: &str) -> Option<(i64, Vec<&str>)> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse().ok(),
            Some(("v1", sig)) => v1.push(sig),
            _ => {}
        }
    }
    Some((timestamp?, v1)).filter(|(_, v1)| !v1.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> String {
        serde_json::json!({
            "id": "evt_1", "object": "event", "type": "invoice.paid",
            "api_version": "2026-09-30.clover", "created": 1_795_000_000, "livemode": false,
            "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
            "data": {"object": {"id": "in_1", "object": "invoice", "customer": "cus_1",
                                "parent": {"subscription_details": {"subscription": "sub_1"}}}}
        })
        .to_string()
    }

    fn secrets() -> Vec<Secret<String>> {
        vec![
            Secret::new("whsec_new".into()),
            Secret::new("whsec_old".into()),
        ]
    }

    #[test]
    fn any_configured_secret_verifies_and_the_subscription_is_found_on_invoices() {
        let body = payload();
        for secret in ["whsec_new", "whsec_old"] {
            let header = Webhook::generate_test_header(&body, secret, None);
            let event = verify(body.as_bytes(), &header, &secrets()).unwrap();
            assert_eq!(event.subscription(), Some("sub_1"));
            assert_eq!(event.customer(), Some("cus_1"));
        }
    }

    #[test]
    fn wrong_secret_stale_time_and_changed_bytes_are_told_apart() {
        let body = payload();
        let forged = Webhook::generate_test_header(&body, "whsec_other", None);
        assert_eq!(
            verify(body.as_bytes(), &forged, &secrets()).unwrap_err(),
            Rejected::BadSignature
        );
        let old = chrono::Utc::now().timestamp() - 301;
        let stale = Webhook::generate_test_header(&body, "whsec_new", Some(old));
        assert_eq!(
            verify(body.as_bytes(), &stale, &secrets()).unwrap_err(),
            Rejected::StaleTimestamp
        );
        let header = Webhook::generate_test_header(&body, "whsec_new", None);
        let changed = body.replacen("cus_1", "cus_2", 1);
        assert_eq!(
            verify(changed.as_bytes(), &header, &secrets()).unwrap_err(),
            Rejected::BadSignature
        );
    }
}
