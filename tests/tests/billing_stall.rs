//! A slow Stripe must not take the database away from anyone: no connection is held while
//! Stripe answers, so one tenant's stalled refreshes leave other tenants' requests alone.

use std::time::{Duration, Instant};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::stripe_fake::{FakeStripe, PRICE_PRO};
use uuid::Uuid;

#[tokio::test]
async fn refreshes_waiting_on_a_stalled_stripe_hold_no_database_connection() {
    let stripe = FakeStripe::start().await;
    // A pool of 5: twenty refreshes that each held a connection would exhaust it 4 times over.
    let mut builder = TestApp::builder().env("DATABASE_MAX_CONNECTIONS", "5");
    for (k, v) in stripe.env() {
        builder = builder.env(k, &v);
    }
    let app = builder.spawn().await;
    let slow = app.register("slow@shop.ru", "Slow").await;
    let other = app.register("other@shop.ru", "Other").await;

    let sub = stripe.put_subscription(None, "cus_slow", "active", PRICE_PRO);
    sqlx::query(
        "update subscriptions set stripe_customer_id = 'cus_slow', stripe_subscription_id = $2
          where tenant_id = $1",
    )
    .bind(Uuid::parse_str(&slow.tenant_id).unwrap())
    .bind(&sub)
    .execute(&app.db.owner)
    .await
    .unwrap();
    stripe.stall_reads(Duration::from_secs(10));

    let started = Instant::now();
    let refreshes: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, token) = (
                app.client.clone(),
                app.url("/api/v1/billing/subscription?refresh=true"),
                slow.access.clone(),
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
    // The slow tenant's own reads are not blocked either (nothing holds its row lock).
    let own = app.get("/api/v1/tenant", &slow.access).await;
    assert_eq!(own.status, 200, "{own:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the other requests were served while the refreshes still waited on Stripe"
    );

    for refresh in refreshes {
        assert_eq!(refresh.await.unwrap().unwrap(), 200);
    }
    assert_eq!(
        stripe
            .requests("GET", &format!("/v1/subscriptions/{sub}"))
            .await
            .len(),
        20,
        "each refresh read Stripe once"
    );
}
