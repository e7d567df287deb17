#!/usr/bin/env bash
# Measures the budgets of issue 13 on release builds, in one run, and prints each beside its
# budget (`<what> <figure> budget <budget> <ok|MISSED>`), then all of them as one table:
#   - benches/sync_budget.rs: a 100,000-row seller (4,000 products x 5 sizes x 5 warehouses,
#     on the largest plan): first sync against an indexed COPY of the same rows, unchanged
#     re-sync, worker peak memory, the first page right after the first sync with no
#     ANALYZE, the plans of the stocks page, then after ANALYZE pgbench running the api's
#     SQL and GET /api/v1/stocks uncached and cached at 50 clients (wrk);
#   - benches/scheduler_tick.rs: one scheduler tick over 10,000 tenants all due.
# BENCH_ROWS changes the seller's size, BENCH_TENANTS the scheduler's tenant count. The
# output is also kept in .run/bench-<time>.txt. Figures only: no time is asserted, but a run
# fails if the seller's rows were not all synced or an answer was not 2xx.
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
# The load generators: pgbench (with the PostgreSQL server package on Debian) and wrk.
command -v pgbench >/dev/null || apt_install postgresql
command -v wrk >/dev/null || apt_install wrk
say "building release binaries"
cargo build --release --bins
say "building the benchmarks"
cargo bench -p stock-tracker-tests --bench sync_budget --bench scheduler_tick --no-run
OUT="$RUN_DIR/bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
say "running the benchmarks (output also in $OUT)"
# Both run even if the first fails; the run's status is the worse of the two.
set +e
(
  BENCH_BIN_DIR="$CARGO_TARGET_DIR/release" cargo bench -p stock-tracker-tests --bench sync_budget
  sync_status=$?
  cargo bench -p stock-tracker-tests --bench scheduler_tick
  tick_status=$?
  [ "$sync_status" -eq 0 ] && [ "$tick_status" -eq 0 ]
) 2>&1 | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
{
  printf '\n== Issue 13 budgets (one run, %s) ==\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  grep -E ' budget .* (ok|MISSED)$| \(reference\)$' "$OUT" | awk '!seen[$0]++'
} | tee -a "$OUT"
exit "$status"
