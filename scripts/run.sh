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

# Wildberries: the built-in sandbox unless WB_BASE_URL points somewhere else. Its rate
# limits are WB's, ten times faster, and simulated orders drain stock every minute.
USE_SANDBOX=0
if [ -z "${WB_BASE_URL:-}" ]; then
  USE_SANDBOX=1
  export WB_SANDBOX_BIND="${WB_SANDBOX_BIND:-127.0.0.1:8081}"
  export WB_BASE_URL="http://$WB_SANDBOX_BIND"
  export WB_SANDBOX=true
  export WB_SANDBOX_RATE_SCALE="${WB_SANDBOX_RATE_SCALE:-10}"
  export WB_RATE_LIMIT_SCALE="${WB_RATE_LIMIT_SCALE:-$WB_SANDBOX_RATE_SCALE}"
  export WB_SANDBOX_DRAIN_SECS="${WB_SANDBOX_DRAIN_SECS:-60}"
  # The sandbox is our catalog entry; a local run also takes personal tokens.
  export WB_SERVICE_ID="${WB_SERVICE_ID:-7c0e7a52-5a3f-4d6b-9f1e-5b70c7d5a001}"
  export WB_ACCEPTED_TOKEN_TYPES="${WB_ACCEPTED_TOKEN_TYPES:-base,service,personal}"
fi

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
[ "$USE_SANDBOX" = 1 ] && start wb-sandbox "$BIN/wb-sandbox"
start api "$BIN/stock-tracker-api"
# The worker and the scheduler connect as the jobs role (the cross-tenant maintenance
# functions are granted to it, not to the api's role).
start worker env DATABASE_URL="$DATABASE_JOBS_URL" "$BIN/stock-tracker-worker"
start scheduler env DATABASE_URL="$DATABASE_JOBS_URL" "$BIN/stock-tracker-scheduler"

API="http://$API_BIND"
for _ in $(seq 1 60); do
  curl -fsS "$API/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$API/health/ready" >/dev/null || { tail -n 20 "$RUN_DIR/logs/api.log"; die "the api did not become ready"; }

# A demo tenant with a sandbox token, synced once, so there is data to look at at once.
DEMO_EMAIL="${DEMO_EMAIL:-demo@stock-tracker.local}"
DEMO_PASSWORD="${DEMO_PASSWORD:-demo-password}"
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
DEMO_TOKEN=""
if [ "$USE_SANDBOX" = 1 ] && [ "${DEMO:-1}" = 1 ]; then
  body="{\"email\":\"$DEMO_EMAIL\",\"password\":\"$DEMO_PASSWORD\",\"company_name\":\"Demo shop\"}"
  answer="$(curl -sS "$API/api/v1/auth/register" -H 'content-type: application/json' -d "$body")"
  if ! printf '%s' "$answer" | grep -q access_token; then
    answer="$(curl -sS "$API/api/v1/auth/login" -H 'content-type: application/json' -d "$body")"
  fi
  DEMO_TOKEN="$(printf '%s' "$answer" | json_field access_token)"
  if [ -n "$DEMO_TOKEN" ]; then
    wb_token="$(curl -sS "$WB_BASE_URL/__sandbox/tokens" -H 'content-type: application/json' -d '{"seller_id": 1}' | json_field token)"
    curl -sS -X PUT "$API/api/v1/wb/credentials" -H "authorization: Bearer $DEMO_TOKEN" \
      -H 'content-type: application/json' -d "{\"token\":\"$wb_token\"}" >/dev/null
    curl -sS -X POST "$API/api/v1/sync" -H "authorization: Bearer $DEMO_TOKEN" >/dev/null
    for _ in $(seq 1 60); do
      curl -fsS "$API/api/v1/sync/status" -H "authorization: Bearer $DEMO_TOKEN" | grep -q '"last_success_at":"' && break
      sleep 0.5
    done
    say "demo tenant synced: $DEMO_EMAIL / $DEMO_PASSWORD"
  else
    say "could not sign in the demo tenant; see .run/logs/api.log"
  fi
fi

cat <<INFO

  Stock Tracker is running.
    API          $API/api/v1
    API docs     $API/docs
    OpenAPI      $API/openapi.json
    Health       $API/health/ready
    Metrics      $API/metrics
    Logs         $RUN_DIR/logs/
INFO
[ "$USE_SANDBOX" = 1 ] && cat <<INFO
    WB sandbox   $WB_BASE_URL (simulated Wildberries; a token: curl -s -X POST $WB_BASE_URL/__sandbox/tokens -d '{"seller_id":2}')
INFO
[ -n "$DEMO_TOKEN" ] && cat <<INFO

  Demo tenant: $DEMO_EMAIL / $DEMO_PASSWORD (synced from the sandbox). Its stock:
    curl -s "$API/api/v1/stocks?limit=5" -H "authorization: Bearer $DEMO_TOKEN"
  (the access token lasts 15 minutes; sign in again with POST /api/v1/auth/login)
INFO
cat <<INFO

  Press Ctrl-C to stop.
INFO
wait
