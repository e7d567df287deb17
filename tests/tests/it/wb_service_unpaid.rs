//! WB answers 402 when our balance as a catalog service is empty. That is ours to fix, for
//! every tenant at once: syncing pauses (the scheduler queues nothing, manual syncs are
//! refused, a run fails with `wb_service_unpaid`), operators are alerted, and no seller's
//! token is touched, until an operator resumes.

use chrono::Utc;
use stock_tracker_shared::jobs::queue;
use stock_tracker_shared::sync::pause;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};

#[tokio::test]
async fn a_402_stops_syncs_for_every_tenant_until_an_operator_resumes() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let a = app.register("a@unpaid.ru", "A").await;
    let b = app.register("b@unpaid.ru", "B").await;
    for (s, seller) in [(&a, 41), (&b, 42)] {
        let saved = connect_token(app, s, &world.token(seller)).await;
        assert_eq!(saved.status.as_u16(), 200, "{saved:#?}");
    }
    assert_eq!(sync_and_wait(app, &a).await["status"], "succeeded");

    world.set_unpaid(true).await;
    let run = sync_and_wait(app, &a).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error_code"], "wb_service_unpaid");
    assert_eq!(
        run["error_message"],
        "Syncing is paused on our side; nothing to do on yours."
    );
    // The seller's token is untouched.
    let cred = app.get("/api/v1/wb/credentials", &a.access).await;
    assert_eq!(cred.body["status"], "active", "{cred:#?}");
    assert!(cred.body["last_error_code"].is_null(), "{cred:#?}");
    assert!(pause::current(&app.db.owner).await.unwrap().is_some());

    // Another tenant: no manual sync, and the scheduler queues nobody.
    let refused = app
        .post("/api/v1/sync", Some(&b.access), serde_json::json!({}))
        .await;
    assert_eq!(
        refused.problem(503, "wb_service_unpaid")["detail"],
        "Syncing is paused on our side; nothing to do on yours."
    );
    let requests_before = world.wb_requests().await.len();
    let due = queue::queue_due_syncs(&app.db.jobs, Utc::now())
        .await
        .unwrap();
    assert!(due.paused);
    assert_eq!(due.queued, 0);
    assert_eq!(world.wb_requests().await.len(), requests_before);

    // Operators see it: the worker counted the 402.
    let metrics = world.worker.metrics_text().await;
    assert!(
        metrics.contains("stock_tracker_wb_payment_required_total 1"),
        "{metrics}"
    );

    // Topped up; the operator resumes (`stock-tracker-api wb-billing resume`).
    world.set_unpaid(false).await;
    assert!(pause::resume(&app.db.owner).await.unwrap().is_some());
    let due = queue::queue_due_syncs(&app.db.jobs, Utc::now())
        .await
        .unwrap();
    assert!(!due.paused);
    assert!(due.queued >= 1, "{due:?}");
}

/// A 401 WB blames on our service secret (the token alone passes `/ping`) is ours to fix:
/// the run fails with `wb_secret_rejected`, the token stays active, operators are alerted.
#[tokio::test]
async fn a_secret_attributed_401_leaves_the_token_active_and_alerts() {
    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("secret@unpaid.ru", "S").await;
    let saved = connect_token(app, &s, &world.token(43)).await;
    assert_eq!(saved.status.as_u16(), 200, "{saved:#?}");

    // WB no longer knows the secret we send (say it expired).
    let changed = reqwest::Client::new()
        .post(format!("{}/__sandbox/service", world.sandbox.base_url))
        .json(&serde_json::json!({"client_secrets": ["a-secret-we-do-not-have"]}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());

    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error_code"], "wb_secret_rejected");
    let cred = app.get("/api/v1/wb/credentials", &s.access).await;
    assert_eq!(cred.body["status"], "active", "{cred:#?}");
    let metrics = world.worker.metrics_text().await;
    assert!(
        metrics.contains(r#"stock_tracker_wb_client_secret_rejected_total{slot="0"} 1"#),
        "{metrics}"
    );
    assert!(pause::current(&app.db.owner).await.unwrap().is_none());
}
