use stock_tracker_tests::lifecycle;

const EXE: &str = env!("CARGO_BIN_EXE_stock-tracker-scheduler");

#[tokio::test]
async fn exits_2_naming_a_missing_variable() {
    lifecycle::exits_2_naming_a_missing_variable(EXE).await;
}

#[tokio::test]
async fn refuses_a_role_that_bypasses_rls() {
    lifecycle::refuses_a_role_that_bypasses_rls(EXE).await;
}

#[tokio::test]
async fn starts_and_stops_cleanly_on_sigterm() {
    lifecycle::starts_and_stops_cleanly_on_sigterm(EXE, "scheduler ready").await;
}

#[tokio::test]
async fn waits_for_redis_and_stops_on_sigterm_while_waiting() {
    lifecycle::waits_for_redis_and_stops_on_sigterm_while_waiting(EXE, "scheduler ready").await;
}
