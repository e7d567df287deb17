//! Start-up and shutdown contract of the scheduler binary.

stock_tracker_tests::lifecycle_tests!(
    env!("CARGO_BIN_EXE_stock-tracker-scheduler"),
    "scheduler ready"
);
