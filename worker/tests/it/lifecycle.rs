//! Start-up and shutdown contract of the worker binary.

stock_tracker_tests::lifecycle_tests!(env!("CARGO_BIN_EXE_stock-tracker-worker"), "worker ready");
