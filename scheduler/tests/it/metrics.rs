//! The scheduler ticks on its cron schedule and reports each tick on its metrics endpoint.

use std::io::{Read, Write};
use std::time::Duration;
use stock_tracker_tests::TestDb;
use stock_tracker_tests::process::{Process, base_env};

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-scheduler");

#[tokio::test]
async fn ticks_are_counted_on_the_metrics_endpoint() {
    let db = TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = base_env(&db);
    env.retain(|(k, _)| *k != "SCHEDULER_METRICS_BIND");
    env.push(("SCHEDULER_METRICS_BIND", format!("127.0.0.1:{port}")));
    env.push(("SCHEDULER_CRON", "* * * * * *".to_string()));
    let mut p = Process::start(EXE, &[], &env);
    p.wait_for("scheduler tick", Duration::from_secs(20));

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#"stock_tracker_scheduler_ticks_total{status="ok"}"#),
        "{answer}"
    );
    assert!(
        answer.contains("stock_tracker_scheduler_tick_duration_seconds_count"),
        "{answer}"
    );
    p.signal("TERM");
    assert_eq!(p.wait_exit(Duration::from_secs(10)).code(), Some(0));
}
