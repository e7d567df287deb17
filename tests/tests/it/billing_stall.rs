//! A slow Stripe must not take the database away from anyone: no connection is held while
//! Stripe answers, so stalled refreshes and webhooks leave other tenants' requests alone.

use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::Session;
use stock_tracker_tests::stripe_fake::{
    FakeStripe, PRICE_PRO, WEBHOOK_SECRET, event, sign, subscription_object,
};
use uuid::Uuid;

/// Eight tenants with a subscription at a fake Stripe whose reads stall, on an api with a
/// pool of 5 connections, and one more tenant to be served meanwhile.
struct Stalled {
    stripe: FakeStripe,
    app: TestApp,
    other: Session,
    /// (owner, customer, subscription) of each waiting tenant.
    slow: Vec<(Session, String, String)>,
}

async fn stalled_stripe() -> Stalled {
    let stripe = FakeStripe::start().await;
    // A pool of 5: eight requests that each held a connection would exhaust it.
    let mut builder = TestApp::builder().env("DATABASE_MAX_CONNECTIONS", "5");
    for (k, v) in stripe.env() {
        builder = builder.env(k, &v);
    }
    let app = builder.spawn().await;
    let other = app.register("other@shop.ru", "Other").await;
    // Refreshing is limited to once a minute per tenant, so the stalled calls come from
    // eight tenants.
    let mut slow = Vec::new();
    for i in 0..8 {
        let owner = app.register(&format!("slow{i}@shop.ru"), "Slow").await;
        let customer = format!("cus_slow{i}");
        let sub = stripe.put_subscription(None, &customer, "active", PRICE_PRO);
        sqlx::query(
            "update subscriptions set stripe_customer_id = $2, stripe_subscription_id = $3
              where tenant_id = $1",
        )
        .bind(Uuid::parse_str(&owner.tenant_id).unwrap())
        .bind(&customer)
        .bind(&sub)
        .execute(&app.db.owner)
        .await
        .unwrap();
        slow.push((owner, customer, sub));
    }
    stripe.stall_reads(Duration::from_secs(10));
    Stalled {
        stripe,
        app,
        other,
        slow,
    }
}

impl Stalled {
    /// While the stalled calls wait on Stripe, another tenant's requests and a waiting
    /// tenant's own reads are answered at once.
    async fn others_are_served(&self, started: Instant) {
        // Let every stalled call reach Stripe and wait there.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for path in [
            "/api/v1/tenant",
            "/api/v1/billing/subscription",
            "/api/v1/sync/status",
            "/api/v1/me",
        ] {
            let asked = Instant::now();
            let answer = self.app.get(path, &self.other.access).await;
            assert_eq!(answer.status, 200, "{path}: {answer:#?}");
            assert!(
                asked.elapsed() < Duration::from_secs(2),
                "{path} took {:?} while Stripe stalled",
                asked.elapsed()
            );
        }
        // Nothing holds a waiting tenant's row lock either.
        let own = self.app.get("/api/v1/tenant", &self.slow[0].0.access).await;
        assert_eq!(own.status, 200, "{own:#?}");
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "the other requests were served while the calls still waited on Stripe"
        );
    }

    async fn each_subscription_was_read_once(&self) {
        for (_, _, sub) in &self.slow {
            assert_eq!(
                self.stripe
                    .requests("GET", &format!("/v1/subscriptions/{sub}"))
                    .await
                    .len(),
                1,
                "each call read Stripe once"
            );
        }
    }
}

fn spawn_status(request: reqwest::RequestBuilder) -> tokio::task::JoinHandle<u16> {
    tokio::spawn(async move {
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

#[tokio::test]
async fn refreshes_waiting_on_a_stalled_stripe_hold_no_database_connection() {
    let s = stalled_stripe().await;
    let started = Instant::now();
    let refreshes: Vec<_> = s
        .slow
        .iter()
        .map(|(owner, _, _)| {
            spawn_status(
                s.app
                    .client
                    .get(s.app.url("/api/v1/billing/subscription?refresh=true"))
                    .bearer_auth(&owner.access),
            )
        })
        .collect();
    s.others_are_served(started).await;
    for refresh in refreshes {
        assert_eq!(refresh.await.unwrap(), 200);
    }
    s.each_subscription_was_read_once().await;
}

/// Issue 11, item 13: Stripe's webhooks in flight while Stripe is slow to answer the re-read
/// hold no connection either.
#[tokio::test]
async fn webhooks_waiting_on_a_stalled_stripe_hold_no_database_connection() {
    let s = stalled_stripe().await;
    let started = Instant::now();
    let deliveries: Vec<_> = s
        .slow
        .iter()
        .enumerate()
        .map(|(i, (_, customer, sub))| {
            let payload = event(
                &format!("evt_stalled_{i}"),
                "customer.subscription.updated",
                subscription_object(sub, customer),
            );
            spawn_status(
                s.app
                    .client
                    .post(s.app.url("/api/v1/billing/webhook"))
                    .header("content-type", "application/json")
                    .header("stripe-signature", sign(&payload, WEBHOOK_SECRET, None))
                    .body(payload),
            )
        })
        .collect();
    s.others_are_served(started).await;
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap(), 200);
    }
    s.each_subscription_was_read_once().await;
}

/// Issue 11, item 2: re-reading Stripe is for owners and admins, at most once a minute per
/// tenant; everyone else reads the stored subscription.
#[tokio::test]
async fn refresh_is_for_managers_and_at_most_once_a_minute_per_tenant() {
    let stripe = FakeStripe::start().await;
    let mut builder = TestApp::builder();
    for (k, v) in stripe.env() {
        builder = builder.env(k, &v);
    }
    let app = builder.spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    let viewer = app.add_member(&owner, "viewer@shop.ru", "viewer").await;
    let member = app.add_member(&owner, "member@shop.ru", "member").await;
    let key = app
        .post(
            "/api/v1/api-keys",
            Some(&owner.access),
            serde_json::json!({"name": "erp", "scope": "read_write"}),
        )
        .await;
    assert_eq!(key.status, 201, "{key:#?}");
    let key = key.body["secret"].as_str().unwrap().to_string();
    let refresh = "/api/v1/billing/subscription?refresh=true";
    for token in [&viewer.access, &member.access, &key] {
        app.get(refresh, token).await.problem(403, "forbidden");
        // The stored subscription stays readable to all of them.
        assert_eq!(
            app.get("/api/v1/billing/subscription", token).await.status,
            200
        );
    }

    // Twenty refreshes at once: one reaches Stripe's side of things, the rest wait a minute.
    let answers = futures::future::join_all((0..20).map(|_| app.get(refresh, &owner.access))).await;
    let done = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(done, 1, "{answers:#?}");
    for limited in answers.iter().filter(|a| a.status != 200) {
        limited.problem(429, "refresh_throttled");
        let wait: u64 = limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    // Another tenant has its own minute.
    let other = app.register("other@shop.ru", "Other").await;
    assert_eq!(app.get(refresh, &other.access).await.status, 200);
}
