//! Attempts are counted by the sync itself (in its run row, before any work), so a job
//! whose attempts keep dying is dead-lettered instead of looping, even when the queue's
//! own rescue of a crashed worker's job forgets how often it was tried.

use std::time::Duration;
use stock_tracker_shared::jobs::{SYNC_QUEUE, queue};
use stock_tracker_tests::world::{Worker, app_for, connect_token, small_sandbox, wait_for_run};
use wb_sandbox::{TokenOptions, mint_token};

#[tokio::test]
async fn a_job_past_its_attempts_is_dead_lettered_without_repeating_raw_error_text() {
    let sandbox = wb_sandbox::spawn(small_sandbox()).await.unwrap();
    let app = app_for(&sandbox.base_url).await;
    let s = app.register("dead@shop.ru", "Dead letters").await;
    connect_token(&app, &s, &mint_token(&TokenOptions::demo(3))).await;
    let started = app
        .post("/api/v1/sync", Some(&s.access), serde_json::json!({}))
        .await;
    let run_id = started.body["run_id"].as_str().unwrap().to_string();

    // As if five attempts had each broken off, the last one leaving raw error text on the
    // run (as code before the fix stored it): the verdict must not repeat it to the seller.
    sqlx::query(
        "update sync_runs set status = 'running', attempts = 5, error_code = 'attempt_failed',
                error_message = 'connection reset by peer' where id = $1::uuid",
    )
    .bind(&run_id)
    .execute(&app.db.owner)
    .await
    .unwrap();

    let worker = Worker::start(&app, &sandbox.base_url).await;
    let run = wait_for_run(&app, &s, &run_id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "dead_lettered");
    assert_eq!(
        run["attempts"], 6,
        "the sixth attempt only recorded the verdict"
    );
    let message = run["error_message"].as_str().unwrap();
    assert_eq!(
        message,
        "Gave up after 5 attempts; the last one ended with: an error on our side."
    );

    // The queue entry is finished, not waiting for another round (apalis writes results
    // in batches, so give it a moment).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = queue::status_of(&app.db.owner, SYNC_QUEUE, &run_id)
            .await
            .unwrap()
            .unwrap();
        if status == queue::JobStatus::Done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queue entry still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stock: i64 = sqlx::query_scalar("select count(*) from stocks")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(stock, 0, "a dead-lettered run does not sync");

    // The tenant is not stuck: the next sync runs normally.
    let again = stock_tracker_tests::world::sync_and_wait(&app, &s).await;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["attempts"], 1);
    worker.stop().await;
}
