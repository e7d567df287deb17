//! The scheduler ticks on its cron schedule and reports each tick on its metrics endpoint.

use std::time::Duration;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::process::{Process, base_env, free_port, scrape};

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-scheduler");

#[tokio::test]
async fn ticks_are_counted_on_the_metrics_endpoint() {
    let db = TestDb::new().await;
    let port = free_port();
    let env = base_env(&db)
        .set("SCHEDULER_METRICS_BIND", format!("127.0.0.1:{port}"))
        .set("SCHEDULER_CRON", "* * * * * *");
    let mut p = Process::start(EXE, &[], &env);
    p.wait_for("scheduler tick", Duration::from_secs(20));

    let answer = scrape(port);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#"stock_tracker_scheduler_ticks_total{status="ok"}"#),
        "{answer}"
    );
    assert!(
        answer.contains("stock_tracker_scheduler_tick_duration_seconds_count"),
        "{answer}"
    );
    p.stop().await;
}
