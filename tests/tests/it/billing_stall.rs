//! A slow Stripe must not take the database away from anyone: no connection is held while
//! Stripe answers, so one tenant's stalled refreshes leave other tenants' requests alone.

use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::stripe_fake::{FakeStripe, PRICE_PRO};
use uuid::Uuid;

#[tokio::test]
async fn refreshes_waiting_on_a_stalled_stripe_hold_no_database_connection() {
    let stripe = FakeStripe::start().await;
    // A pool of 5: eight refreshes that each held a connection would exhaust it.
    let mut builder = TestApp::builder().env("DATABASE_MAX_CONNECTIONS", "5");
    for (k, v) in stripe.env() {
        builder = builder.env(k, &v);
    }
    let app = builder.spawn().await;
    let other = app.register("other@shop.ru", "Other").await;
    // Refreshing is limited to once a minute per tenant, so the stalled refreshes come from
    // eight tenants, each with a subscription at Stripe.
    let mut slow = Vec::new();
    let mut subs = Vec::new();
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
        slow.push(owner);
        subs.push(sub);
    }
    stripe.stall_reads(Duration::from_secs(10));

    let started = Instant::now();
    let refreshes: Vec<_> = slow
        .iter()
        .map(|owner| {
            let (client, url, token) = (
                app.client.clone(),
                app.url("/api/v1/billing/subscription?refresh=true"),
                owner.access.clone(),
            );
            tokio::spawn(async move {
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    // Let every refresh reach Stripe and wait there.
    tokio::time::sleep(Duration::from_secs(2)).await;

    for path in [
        "/api/v1/tenant",
        "/api/v1/billing/subscription",
        "/api/v1/sync/status",
        "/api/v1/me",
    ] {
        let asked = Instant::now();
        let answer = app.get(path, &other.access).await;
        assert_eq!(answer.status, 200, "{path}: {answer:#?}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{path} took {:?} while Stripe stalled",
            asked.elapsed()
        );
    }
    // A waiting tenant's own reads are not blocked either (nothing holds its row lock).
    let own = app.get("/api/v1/tenant", &slow[0].access).await;
    assert_eq!(own.status, 200, "{own:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the other requests were served while the refreshes still waited on Stripe"
    );

    for refresh in refreshes {
        assert_eq!(refresh.await.unwrap().unwrap(), 200);
    }
    for sub in subs {
        assert_eq!(
            stripe
                .requests("GET", &format!("/v1/subscriptions/{sub}"))
                .await
                .len(),
            1,
            "each refresh read Stripe once"
        );
    }
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
