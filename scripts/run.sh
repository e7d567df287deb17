#!/usr/bin/env bash
# Brings the whole system up locally: PostgreSQL and Redis (started if needed), database
# roles, migrations, a build, then the api, worker and scheduler. Ctrl-C stops everything
# this script started.
. "$(dirname "$0")/lib/prepare.sh"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  if [ ${#PIDS[@]} -gt 0 ]; then
    say "stopping the services"
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
  stop_started_services
}
trap cleanup INT TERM EXIT

prepare
cd "$ROOT"
export API_BIND="${API_BIND:-127.0.0.1:8000}"

say "building (first build takes a few minutes)"
cargo build --workspace --bins
BIN="$CARGO_TARGET_DIR/debug"

say "migrating"
"$BIN/stock-tracker-api" migrate

start() {
  local name="$1"; shift
  "$@" >"$RUN_DIR/logs/$name.log" 2>&1 &
  PIDS+=("$!")
  say "started $name (pid $!, log .run/logs/$name.log)"
}
start api "$BIN/stock-tracker-api"
start worker "$BIN/stock-tracker-worker"
start scheduler "$BIN/stock-tracker-scheduler"

API="http://$API_BIND"
for _ in $(seq 1 60); do
  curl -fsS "$API/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$API/health/ready" >/dev/null || { tail -n 20 "$RUN_DIR/logs/api.log"; die "the api did not become ready"; }

cat <<INFO

  Stock Tracker is running.
    API          $API/api/v1
    API docs     $API/docs
    OpenAPI      $API/openapi.json
    Health       $API/health/ready
    Metrics      $API/metrics
    Logs         $RUN_DIR/logs/

  Press Ctrl-C to stop.
INFO
wait
