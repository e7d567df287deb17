#!/usr/bin/env bash
# Measures the budgets of the sync issue on release builds: a 100,000-row sync (time,
# worker peak memory, against a plain COPY) and GET /api/v1/stocks latency at 50 clients.
# BENCH_ROWS changes the seller's size.
#
#   scripts/bench.sh requests   WB requests per sync (issue 12's request budget) for 1,000 and
#                               10,000 products; counts, not timings, so an unoptimised build
. "$(dirname "$0")/lib/prepare.sh"
trap stop_started_services EXIT
prepare
cd "$ROOT"
if [ "${1:-}" = requests ]; then
  say "running the request benchmark"
  cargo bench -p stock-tracker-tests --bench sync_requests --profile dev
  exit 0
fi
say "building release binaries"
cargo build --release --bins
say "running the benchmark"
BENCH_BIN_DIR="$CARGO_TARGET_DIR/release" cargo bench -p stock-tracker-tests --bench sync_budget
