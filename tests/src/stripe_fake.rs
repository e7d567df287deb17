//! A fake Stripe at the HTTP level: the endpoints billing calls, with state (customers,
//! subscriptions) that tests can change "at Stripe", a record of every request, and signed
//! webhook deliveries. The api reaches it through `STRIPE_API_BASE`.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const PRICE_STARTER: &str = "price_starter_test";
pub const PRICE_PRO: &str = "price_pro_test";
pub const PRICE_ENTERPRISE: &str = "price_enterprise_test";
/// The secret Stripe signs with now, and the one being rotated out (both accepted).
pub const WEBHOOK_SECRET: &str = "whsec_test_current";
pub const OLD_WEBHOOK_SECRET: &str = "whsec_test_previous";

const PERIOD_START: i64 = 1_795_000_000;
const PERIOD_END: i64 = PERIOD_START + 30 * 86_400;

#[derive(Default)]
struct State {
    next: u64,
    subscriptions: HashMap<String, Value>,
    /// How long reading a subscription takes (a slow Stripe).
    read_delay: std::time::Duration,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{:06}", self.next)
    }
}

pub struct FakeStripe {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

/// A recorded form-encoded request body.
pub type Form = HashMap<String, String>;

fn form(req: &Request) -> Form {
    url_decode_pairs(std::str::from_utf8(&req.body).unwrap_or_default())
}

fn url_decode_pairs(raw: &str) -> Form {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%' && i + 3 <= b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(what: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "error": {"type": "invalid_request_error", "message": format!("No such {what}")}
    }))
}

impl FakeStripe {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        Mock::given(method("POST"))
            .and(path("/v1/customers"))
            .respond_with(move |_: &Request| {
                let id = s.lock().unwrap().id("cus");
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "object": "customer"}))
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(move |_: &Request| {
                let id = s.lock().unwrap().id("cs_test");
                ResponseTemplate::new(200).set_body_json(json!({
                    "id": id, "object": "checkout.session",
                    "url": format!("https://checkout.stripe.test/c/pay/{id}")
                }))
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("POST"))
            .and(path("/v1/billing_portal/sessions"))
            .respond_with(move |_: &Request| {
                let id = s.lock().unwrap().id("bps");
                ResponseTemplate::new(200).set_body_json(json!({
                    "id": id, "object": "billing_portal.session",
                    "url": format!("https://billing.stripe.test/p/session/{id}")
                }))
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("GET"))
            .and(path("/v1/subscriptions"))
            .respond_with(move |req: &Request| {
                let query = url_decode_pairs(req.url.query().unwrap_or_default());
                let customer = query.get("customer").cloned().unwrap_or_default();
                let state = s.lock().unwrap();
                let mut data: Vec<&Value> = state
                    .subscriptions
                    .values()
                    .filter(|sub| sub["customer"] == customer.as_str())
                    .collect();
                data.sort_by_key(|sub| std::cmp::Reverse(sub["created"].as_i64()));
                ResponseTemplate::new(200)
                    .set_body_json(json!({"object": "list", "data": data, "has_more": false}))
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("GET"))
            .and(path_regex(r"^/v1/subscriptions/[^/]+$"))
            .respond_with(move |req: &Request| {
                let id = req.url.path().rsplit('/').next().unwrap_or_default();
                let state = s.lock().unwrap();
                match state.subscriptions.get(id) {
                    Some(sub) => ResponseTemplate::new(200)
                        .set_body_json(sub)
                        .set_delay(state.read_delay),
                    None => not_found("subscription"),
                }
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("POST"))
            .and(path_regex(r"^/v1/subscriptions/[^/]+$"))
            .respond_with(move |req: &Request| {
                let id = req.url.path().rsplit('/').next().unwrap_or_default();
                let form = form(req);
                let mut state = s.lock().unwrap();
                let Some(sub) = state.subscriptions.get_mut(id) else {
                    return not_found("subscription");
                };
                if let Some(price) = form.get("items[0][price]") {
                    sub["items"]["data"][0]["price"]["id"] = json!(price);
                }
                if let Some(cancel) = form.get("cancel_at_period_end") {
                    sub["cancel_at_period_end"] = json!(cancel == "true");
                }
                ResponseTemplate::new(200).set_body_json(sub.clone())
            })
            .mount(&server)
            .await;
        let s = state.clone();
        Mock::given(method("DELETE"))
            .and(path_regex(r"^/v1/subscriptions/[^/]+$"))
            .respond_with(move |req: &Request| {
                let id = req.url.path().rsplit('/').next().unwrap_or_default();
                let mut state = s.lock().unwrap();
                let Some(sub) = state.subscriptions.get_mut(id) else {
                    return not_found("subscription");
                };
                sub["status"] = json!("canceled");
                ResponseTemplate::new(200).set_body_json(sub.clone())
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The api settings that point billing at this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_SECRET_KEY", "sk_test_fake".to_string()),
            ("STRIPE_API_BASE", self.server.uri()),
            (
                "STRIPE_WEBHOOK_SECRETS",
                format!("{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}"),
            ),
            ("STRIPE_PRICE_STARTER", PRICE_STARTER.to_string()),
            ("STRIPE_PRICE_PRO", PRICE_PRO.to_string()),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE.to_string()),
        ]
    }

    /// Creates or replaces a subscription at "Stripe" and returns its id.
    pub fn put_subscription(
        &self,
        id: Option<&str>,
        customer: &str,
        status: &str,
        price: &str,
    ) -> String {
        let mut state = self.state.lock().unwrap();
        let id = id.map(str::to_string).unwrap_or_else(|| state.id("sub"));
        let created = PERIOD_START + state.next as i64;
        let item = state.id("si");
        state.subscriptions.insert(
            id.clone(),
            json!({
                "id": id, "object": "subscription", "customer": customer, "status": status,
                "cancel_at_period_end": false, "created": created,
                "trial_end": null, "metadata": {},
                "items": {"object": "list", "data": [{
                    "id": item, "object": "subscription_item",
                    "price": {"id": price, "object": "price"},
                    "current_period_start": PERIOD_START, "current_period_end": PERIOD_END
                }]}
            }),
        );
        id
    }

    /// From now on, reading a subscription takes `delay` (Stripe being slow).
    pub fn stall_reads(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().read_delay = delay;
    }

    /// Changes a subscription's status at "Stripe" (what a payment or the dashboard does).
    pub fn set_status(&self, id: &str, status: &str) {
        self.state
            .lock()
            .unwrap()
            .subscriptions
            .get_mut(id)
            .expect("known subscription")["status"] = json!(status);
    }

    pub fn subscription(&self, id: &str) -> Value {
        self.state.lock().unwrap().subscriptions[id].clone()
    }

    /// Requests received for `verb path`, as decoded forms (query string for GETs).
    pub async fn requests(&self, verb: &str, path: &str) -> Vec<Form> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == path)
            .map(|r| {
                if verb == "GET" {
                    url_decode_pairs(r.url.query().unwrap_or_default())
                } else {
                    form(r)
                }
            })
            .collect()
    }
}

/// An event as Stripe sends it.
pub fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id, "object": "event", "type": kind, "api_version": "2026-09-30.clover",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    })
    .to_string()
}

/// A `Stripe-Signature` header for `payload`, signed `at` (Unix seconds; now if None).
pub fn sign(payload: &str, secret: &str, at: Option<i64>) -> String {
    stripe_webhook::Webhook::generate_test_header(payload, secret, at)
}

/// The event objects of one subscription's lifecycle.
pub fn subscription_object(id: &str, customer: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer})
}

pub fn invoice_object(id: &str, customer: &str, subscription: &str) -> Value {
    json!({"id": id, "object": "invoice", "customer": customer,
           "parent": {"type": "subscription_details",
                      "subscription_details": {"subscription": subscription}}})
}

pub fn checkout_object(id: &str, customer: &str, subscription: &str, tenant: &str) -> Value {
    json!({"id": id, "object": "checkout.session", "customer": customer,
           "subscription": subscription, "client_reference_id": tenant,
           "metadata": {"tenant_id": tenant}})
}
