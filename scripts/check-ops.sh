#!/usr/bin/env bash
# Checks the deployment and operations files without a Docker engine:
#
#   prometheus   promtool check config + check rules + test rules (Debian's prometheus)
#   nginx        nginx -t on nginx/nginx.conf, with a throwaway certificate (Debian's nginx);
#                the rate limits' key (an IPv6 client per /64) through a real nginx
#   workflows    actionlint on .github/workflows, shellcheck on the scripts they and we run;
#                every third-party action pinned by commit SHA (with its tag in a comment) and
#                every image by digest; the deploy's image tags (latest from main only)
#   compose      docker-compose.yml against the Compose Specification schema (check-jsonschema's
#                pinned copy); every variable it reads is documented in .env.example; every
#                image we do not build pinned by digest
#   dockerfile   the Dockerfile parses (BuildKit's parser), stages and binaries fit the
#                workspace, the .dockerignore'd build context loads it (cargo metadata --locked);
#                every base image pinned by digest
#   dashboards   every Grafana dashboard and provisioning file parses
#   metrics      every metric a dashboard or an alert rule uses is exported by the binaries,
#                read from their live /metrics (api, worker, scheduler run on the WB sandbox)
#   backup       scripts/backup.sh's dump, restored by scripts/restore.sh into a fresh
#                database, has the same row count in every table; rotation keeps BACKUP_KEEP
#
# Usage: scripts/check-ops.sh [STEP...]   (default: all of them, in that order)
#        OPS_CHECK_KEEP=1 keeps the work folder (the /metrics pages, logs, dumps) for a look.
# Installs what it needs (Debian packages, a virtualenv, an npm folder under
# /var/cache/stock-tracker/ops-tools). Uses PostgreSQL and Redis as scripts/test.sh does, in a
# throwaway database and Redis key prefix that it removes. Exits non-zero if any step fails.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/ops-tools.sh
. "$HERE/lib/ops-tools.sh"

ALL_STEPS=(prometheus nginx workflows compose dockerfile dashboards metrics backup)
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=("${ALL_STEPS[@]}")
for s in "${STEPS[@]}"; do
  case " ${ALL_STEPS[*]} " in *" $s "*) ;; *) echo "unknown step $s (steps: ${ALL_STEPS[*]})" >&2; exit 2 ;; esac
done

WORK="$(mktemp -d /tmp/check-ops.XXXXXX)"
PASSED=()
FAILED=()
CLEANUP=()
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
  if [ "${OPS_CHECK_KEEP:-0}" = 1 ]; then echo "kept $WORK (OPS_CHECK_KEEP=1)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

step() { printf '\n\033[1m==> ops check: %s\033[0m\n' "$*"; }
run_step() {
  local name="$1" started=$SECONDS
  step "$name"
  # In a subshell of its own, outside any condition, so that `set -e` holds inside the step.
  local rc=0
  set +e
  (
    set -e
    "check_$name"
  )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    PASSED+=("$name")
    echo "ok: $name ($((SECONDS - started)) s)"
  else
    FAILED+=("$name")
    echo "FAILED: $name ($((SECONDS - started)) s)"
  fi
}

# ------------------------------------------------------------------ static checks
check_prometheus() {
  promtool check config monitoring/prometheus/prometheus.yml
  promtool check rules monitoring/prometheus/rules/*.yml
  promtool test rules monitoring/prometheus/tests/*.yml
}

check_nginx() {
  # nginx -t resolves the upstream's host name (the compose service "api") and reads the
  # certificate, so it runs on a verbatim copy of the config beside a throwaway certificate,
  # with "api" resolving to loopback in a private mount namespace (the machine's own
  # /etc/hosts is not touched).
  local dir="$WORK/nginx"
  mkdir -p "$dir/certs" "$dir/logs"
  cp nginx/nginx.conf "$dir/nginx.conf"
  cp /etc/nginx/mime.types "$dir/mime.types"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=stock-tracker.test \
    -keyout "$dir/certs/privkey.pem" -out "$dir/certs/fullchain.pem" 2>/dev/null
  { cat /etc/hosts; echo "127.0.0.1 api"; } >"$dir/hosts"
  local test=("$NGINX_BIN" -t -p "$dir/" -e stderr -c "$dir/nginx.conf")
  if unshare -m true 2>/dev/null; then
    # shellcheck disable=SC2016 # expanded by the inner sh
    unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$dir/hosts" "${test[@]}" \
      >"$dir/out" 2>&1 || { cat "$dir/out"; return 1; }
  else
    echo "  (no mount namespace here: checking with the upstream host names replaced by 127.0.0.1)"
    sed -i -E 's/server api:/server 127.0.0.1:/' "$dir/nginx.conf"
    "${test[@]}" >"$dir/out" 2>&1 || { cat "$dir/out"; return 1; }
  fi
  cat "$dir/out"
  # A warning is a defect too (a duplicate, a directive nginx ignores).
  if grep -E '\[(warn|emerg|alert|crit)\]' "$dir/out" >/dev/null; then
    echo "nginx -t printed warnings"
    return 1
  fi
  echo "nginx -t: configuration ok"
  check_nginx_limit_key
}

# The rate limits' key (map $remote_addr $limit_key in nginx/nginx.conf) through a real
# nginx: the map block, copied verbatim but for reading the address from ?ip= instead of the
# peer (a test cannot connect from many IPv6 addresses), answers with the key it computes.
# Every address of one /64 must get the same key, whatever the "::" hides, and IPv4 its own.
check_nginx_limit_key() {
  local dir="$WORK/nginx-limit-key" port pid i bad=0 n=0 addr want got
  mkdir -p "$dir/tmp"
  port="$(free_port)"
  local map
  # shellcheck disable=SC2016 # sed's pattern: the $ names are nginx's, not the shell's
  map="$(sed -n '/^    map \$remote_addr \$limit_key {$/,/^    }$/p' nginx/nginx.conf)"
  [ -n "$map" ] || { echo "nginx/nginx.conf has no 'map \$remote_addr \$limit_key' block"; return 1; }
  {
    echo 'worker_processes 1;'
    echo 'error_log stderr warn;'
    echo 'pid nginx.pid;'
    echo 'events { worker_connections 64; }'
    echo 'http {'
    echo '    access_log off;'
    echo '    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;'
    echo '    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;'
    printf '%s\n' "${map//\$remote_addr/\$arg_ip}"
    echo "    server { listen 127.0.0.1:$port; location / { default_type text/plain; return 200 \"\$limit_key\"; } }"
    echo '}'
  } >"$dir/nginx.conf"
  "$NGINX_BIN" -p "$dir/" -e stderr -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/out" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064 # the pid is meant to be expanded now
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null" EXIT
  for i in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/?ip=1.2.3.4" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/?ip=1.2.3.4" || { cat "$dir/out"; echo "the test nginx did not start"; return 1; }
  while read -r addr want; do
    [ -n "$addr" ] || continue
    n=$((n + 1))
    got="$(curl -fsS "http://127.0.0.1:$port/?ip=$addr")"
    if [ "$got" != "$want" ]; then
      echo "  limit key of $addr: got '$got', expected '$want'"
      bad=1
    fi
  done <<'CASES'
203.0.113.7 203.0.113.7
::ffff:198.51.100.4 198.51.100.4
2001:db8:1:2:3:4:5:6 2001:db8:1:2
2001:db8:1:2:ffff:ffff:ffff:ffff 2001:db8:1:2
2001:db8:1:2::1 2001:db8:1:2
2001:db8:1:2:: 2001:db8:1:2
2001:db8:1:0:1:2:3:4 2001:db8:1:0
2001:db8:1::1 2001:db8:1:0
2001:db8:1:: 2001:db8:1:0
2001:db8:0:0:1:2:3:4 2001:db8:0:0
2001:db8::1:2:3:4 2001:db8:0:0
2001:db8::1:0:0:1 2001:db8:0:0
2001:db8::1 2001:db8:0:0
2001:db8:: 2001:db8:0:0
2001:db8:0:1::5 2001:db8:0:1
2001:db8::1:2:3:4:5 2001:db8:0:1
2001:0:0:5:1:: 2001:0:0:5
2001::5:1:2:3:4 2001:0:0:5
1::2:3:4:5:6:7 1:0:2:3
1:0:2:3:4:5:6:7 1:0:2:3
fe80::1 fe80:0:0:0
fe80::aaaa:bbbb:cccc:dddd fe80:0:0:0
:: 0:0:0:0
::1 0:0:0:0
::1:2:3:4 0:0:0:0
::1:2:3:4:5 0:0:0:1
0:0:0:1:: 0:0:0:1
::1:2:3:4:5:6 0:0:1:2
::1:2:3:4:5:6:7 0:1:2:3
CASES
  [ "$bad" -eq 0 ] || return 1
  echo "nginx limit key: $n addresses, IPv6 counted per /64"
}

check_workflows() {
  local files=(.github/workflows/*.yml)
  [ -e "${files[0]}" ] || { echo "no workflows in .github/workflows"; return 1; }
  "$ACTIONLINT" ".github/workflows/*.yml"
  # Also against the published workflow schema (catches what actionlint tolerates).
  "$CHECK_JSONSCHEMA" --builtin-schema vendor.github-workflows "${files[@]}"
  # The shell that workflows and operators run.
  shellcheck -x scripts/backup.sh scripts/restore.sh scripts/check-ops.sh scripts/lib/ops-tools.sh \
    scripts/sqlx-prepare.sh scripts/ops/*.sh .github/scripts/*.sh
  echo "shellcheck: ok"
  # Actions by commit SHA, images by digest: a moved tag must not change what runs.
  "$OPS_PYTHON" scripts/ops/pins_check.py workflows "${files[@]}"
  check_image_tags
}

# The deploy's tags for each kind of ref: `latest` comes from refs/heads/main and from nothing
# else, however a branch or tag is named.
check_image_tags() {
  local sha=0123456789abcdef0123456789abcdef01234567 bad=0 ref want got
  while IFS='|' read -r ref want; do
    got="$(.github/scripts/image-tags.sh "$ref" "$sha" 2>/dev/null | sed "s/^$sha\$/SHA/" | paste -sd' ')"
    if [ "$got" != "$want" ]; then
      echo "image-tags.sh $ref: got '$got', expected '$want'"
      bad=1
    fi
  done <<'CASES'
refs/heads/main|SHA main latest
refs/heads/develop|SHA develop
refs/heads/latest|SHA
refs/heads/Latest|SHA
refs/heads/main/latest|SHA
refs/heads/feature/latest|SHA
refs/heads/0123456789abcdef0123456789abcdef01234567|SHA
refs/tags/latest|SHA
refs/tags/v1.0.0|SHA
refs/pull/1/merge|SHA
CASES
  if .github/scripts/image-tags.sh refs/heads/main latest >/dev/null 2>&1; then
    echo "image-tags.sh accepted 'latest' as the commit SHA"
    bad=1
  fi
  [ "$bad" -eq 0 ] || return 1
  echo "image tags: latest only from refs/heads/main (10 refs checked)"
}

check_compose() {
  "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec docker-compose.yml
  # Compose's own resolution, where the docker compose plugin is present (it needs no engine).
  if docker compose version >/dev/null 2>&1; then
    docker compose --env-file .env.example -f docker-compose.yml --profile prod --profile demo config -q
    echo "docker compose config: ok"
  fi
  # Every variable the compose file reads is documented in .env.example.
  "$OPS_PYTHON" scripts/ops/compose_env_check.py docker-compose.yml .env.example
  "$OPS_PYTHON" scripts/ops/pins_check.py compose docker-compose.yml
}

check_dockerfile() {
  "$OPS_PYTHON" scripts/ops/dockerfile_check.py "$ROOT" "$WORK/docker-context"
  "$OPS_PYTHON" scripts/ops/pins_check.py dockerfile Dockerfile
}

check_dashboards() {
  "$OPS_PYTHON" - <<'PY'
import json, pathlib, sys, yaml
bad = 0
dashboards = sorted(pathlib.Path("monitoring/grafana/dashboards").glob("*.json"))
if not dashboards:
    sys.exit("no dashboards in monitoring/grafana/dashboards")
uids = {}
for p in dashboards:
    try:
        d = json.loads(p.read_text())
    except ValueError as e:
        print(f"{p}: not valid JSON: {e}"); bad += 1; continue
    problems = []
    if not d.get("uid") or not d.get("title"):
        problems.append("no uid or title")
    if d.get("uid") in uids:
        problems.append(f"uid {d['uid']!r} also used by {uids[d['uid']]}")
    uids[d.get("uid")] = p
    panels = d.get("panels") or []
    if not panels:
        problems.append("no panels")
    ids = [x.get("id") for x in panels]
    if len(ids) != len(set(ids)):
        problems.append("duplicate panel ids")
    for x in panels:
        if x.get("type") != "row" and not any(t.get("expr") for t in x.get("targets") or []):
            problems.append(f"panel {x.get('title')!r} has no query")
    for problem in problems:
        print(f"{p}: {problem}"); bad += 1
    print(f"{p}: {len(panels)} panels" if not problems else f"{p}: invalid")
for p in sorted(pathlib.Path("monitoring/grafana/provisioning").rglob("*.yml")):
    try:
        yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        print(f"{p}: {e}"); bad += 1
sys.exit(1 if bad else 0)
PY
}

# ------------------------------------------------------------------ the live system
# PostgreSQL and Redis as scripts/test.sh gets them, in a database of our own.
LIVE_READY=""
live_prepare() {
  [ -z "$LIVE_READY" ] || return 0
  unset DATABASE_URL DATABASE_OWNER_URL DATABASE_JOBS_URL
  export DB_NAME="st_opscheck_$$"
  # shellcheck source=scripts/lib/prepare.sh
  . "$HERE/lib/prepare.sh"
  prepare
  CLEANUP+=("stop_started_services")
  CLEANUP+=("pg_superuser -c 'drop database if exists $DB_NAME with (force)'")
  CLEANUP+=("pg_superuser -c 'drop database if exists ${DB_NAME}_restored with (force)'")
  export REDIS_KEY_PREFIX="st-opscheck-$$:"
  # Keys hold JSON (quotes, spaces): one key a line, nothing else special to xargs.
  CLEANUP+=("redis-cli -u \"\$REDIS_URL\" --scan --pattern '$REDIS_KEY_PREFIX*' | xargs -r -d '\\n' redis-cli -u \"\$REDIS_URL\" del >/dev/null")
  export CARGO_TARGET_DIR
  BIN="$CARGO_TARGET_DIR/debug"
  # Normally already built by the tests; cargo makes sure they are current.
  say "building the binaries (a no-op when the tests built them)"
  cargo build --quiet --workspace --bins
  LIVE_READY=1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

LIVE_PIDS=()
live_stop() {
  if [ ${#LIVE_PIDS[@]} -gt 0 ]; then
    kill -TERM "${LIVE_PIDS[@]}" 2>/dev/null || true
    wait "${LIVE_PIDS[@]}" 2>/dev/null || true
    LIVE_PIDS=()
  fi
}

live_fail() {
  echo "$*" >&2
  local f
  for f in "$WORK"/logs/*.log; do echo "--- $f (last lines)"; tail -n 15 "$f" | cut -c1-400; done >&2
  return 1
}

# Starts the sandbox, api, worker and scheduler, syncs one sandbox seller, and saves the
# three /metrics pages into $WORK/metrics.
live_run() {
  mkdir -p "$WORK/logs" "$WORK/metrics"
  API_BIND="127.0.0.1:$(free_port)"
  WORKER_METRICS_BIND="127.0.0.1:$(free_port)"
  SCHEDULER_METRICS_BIND="127.0.0.1:$(free_port)"
  WB_SANDBOX_BIND="127.0.0.1:$(free_port)"
  export API_BIND WORKER_METRICS_BIND SCHEDULER_METRICS_BIND WB_SANDBOX_BIND
  export WB_BASE_URL="http://$WB_SANDBOX_BIND" WB_SANDBOX=true
  # The sandbox is our catalog entry and mints personal tokens (as scripts/run.sh).
  export WB_SERVICE_ID=7c0e7a52-5a3f-4d6b-9f1e-5b70c7d5a001 WB_ACCEPTED_TOKEN_TYPES=base,service,personal
  # The sandbox enforces WB's real limits and our own budget is off, so that a burst of
  # token checks below draws a 429 (a metric family appears only once it has a sample).
  export WB_SANDBOX_RATE_SCALE=1 WB_RATE_LIMIT_SCALE=0 WB_SANDBOX_DRAIN_SECS=0
  # Stripe configured with made-up values (nothing calls Stripe here), so that the webhook
  # endpoint verifies, and counts, what it is sent.
  export STRIPE_SECRET_KEY="${STRIPE_SECRET_KEY:-sk_test_opscheck}"
  export STRIPE_WEBHOOK_SECRETS="${STRIPE_WEBHOOK_SECRETS:-whsec_opscheck}"
  export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:9/}"
  export STRIPE_PRICE_STARTER="${STRIPE_PRICE_STARTER:-price_opscheck_starter}"
  export STRIPE_PRICE_PRO="${STRIPE_PRICE_PRO:-price_opscheck_pro}"
  export STRIPE_PRICE_ENTERPRISE="${STRIPE_PRICE_ENTERPRISE:-price_opscheck_enterprise}"
  export PUBLIC_BASE_URL="http://$API_BIND" LOG_FORMAT=json
  export SCHEDULER_CRON="* * * * * *"
  "$BIN/stock-tracker-api" migrate >"$WORK/logs/migrate.log" 2>&1 || live_fail "migrate failed" || return 1
  local name role_url
  for name in wb-sandbox stock-tracker-api stock-tracker-worker stock-tracker-scheduler; do
    # The worker and the scheduler connect as the jobs role, the rest as the api's.
    case "$name" in *worker | *scheduler) role_url="$DATABASE_JOBS_URL" ;; *) role_url="$DATABASE_URL" ;; esac
    DATABASE_URL="$role_url" "$BIN/$name" >"$WORK/logs/$name.log" 2>&1 &
    LIVE_PIDS+=("$!")
  done
  local api="http://$API_BIND" i
  for i in $(seq 1 100); do
    curl -fsS "$api/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "$api/health/ready" >/dev/null || live_fail "the api did not become ready" || return 1

  local json='{"email":"ops-check@stock-tracker.test","password":"ops check passphrase","company_name":"Ops check"}'
  local token wb
  token="$(curl -fsS "$api/api/v1/auth/register" -H 'content-type: application/json' -d "$json" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
  [ -n "$token" ] || live_fail "could not register a tenant" || return 1
  wb="$(curl -fsS "$WB_BASE_URL/__sandbox/tokens" -H 'content-type: application/json' -d '{"seller_id": 3}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
  curl -fsS -o /dev/null -X PUT "$api/api/v1/wb/credentials" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "{\"token\":\"$wb\"}" || live_fail "could not store the WB token" || return 1
  curl -fsS -o /dev/null -X POST "$api/api/v1/sync" -H "authorization: Bearer $token" || live_fail "could not queue a sync" || return 1
  for i in $(seq 1 150); do
    curl -fsS "$api/api/v1/sync/status" -H "authorization: Bearer $token" | grep -q '"last_success_at":"' && break
    sleep 0.2
  done
  curl -fsS "$api/api/v1/sync/status" -H "authorization: Bearer $token" | grep -q '"last_success_at":"' ||
    live_fail "the sandbox sync did not succeed" || return 1
  # A read twice (a cache miss, then a hit), so the cache counters have samples too.
  curl -fsS -o /dev/null "$api/api/v1/stocks?limit=5" -H "authorization: Bearer $token"
  curl -fsS -o /dev/null "$api/api/v1/stocks?limit=5" -H "authorization: Bearer $token"
  # A Stripe event with a bad signature (rejected) to every webhook path the API documents.
  local path
  for path in $(curl -fsS "$api/openapi.json" | python3 -c 'import json, sys
for p in json.load(sys.stdin).get("paths", {}):
    if "webhook" in p and "{" not in p: print(p)'); do
    echo "  POST $path (a Stripe event with a bad signature): $(curl -sS -o /dev/null -w '%{http_code}' \
      -X POST "$api$path" -H 'content-type: application/json' -H 'stripe-signature: t=1,v1=00' \
      -d '{"id":"evt_opscheck","type":"invoice.paid"}')"
  done
  # Token checks in a burst, past WB's /ping limit (3 per 30 s): the sandbox answers 429.
  for i in 1 2 3 4 5; do
    curl -s -o /dev/null --max-time 2 -X PUT "$api/api/v1/wb/credentials" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d "{\"token\":\"$wb\"}" || true
    curl -fsS "$api/metrics" | grep -q '^stock_tracker_wb_rate_limited_total' && break
  done
  sleep 1.5 # a scheduler tick
  curl -fsS "$api/metrics" >"$WORK/metrics/api.txt" || live_fail "no api /metrics" || return 1
  curl -fsS "http://$WORKER_METRICS_BIND/metrics" >"$WORK/metrics/worker.txt" || live_fail "no worker /metrics" || return 1
  curl -fsS "http://$SCHEDULER_METRICS_BIND/metrics" >"$WORK/metrics/scheduler.txt" || live_fail "no scheduler /metrics" || return 1
  local f
  for f in api worker scheduler; do
    echo "  $f /metrics: $(grep -c '^# TYPE ' "$WORK/metrics/$f.txt") metric families"
  done
}

check_metrics() {
  trap live_stop EXIT
  live_run || return 1
  live_stop
  "$OPS_PYTHON" scripts/ops/metrics_check.py \
    --exposition "$WORK/metrics/api.txt" --exposition "$WORK/metrics/worker.txt" \
    --exposition "$WORK/metrics/scheduler.txt" \
    --rules monitoring/prometheus/rules --dashboards monitoring/grafana/dashboards
}

row_counts() {
  # One line per table in every non-system schema: "schema.table|rows".
  pg_superuser -d "$1" -tA <<'SQL'
select format('select %L || ''|'' || count(*) from %I.%I', schemaname || '.' || tablename, schemaname, tablename)
from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1
\gexec
SQL
}

check_backup() {
  trap live_stop EXIT
  # The database holds a synced sandbox seller when the metrics step ran first; otherwise
  # sync one now.
  if [ ! -s "$WORK/metrics/api.txt" ]; then
    live_run || return 1
    live_stop
  fi
  # (dropped by the cleanup that live_prepare registered)
  local owner_url="$DATABASE_OWNER_URL" restored="${DB_NAME}_restored" dir="$WORK/backups"
  mkdir -p "$dir"
  # Rotation: three older dumps already there, BACKUP_KEEP=2: the new one and the newest
  # old one stay.
  local old
  for old in 20240101T000000Z 20240102T000000Z 20240103T000000Z; do
    echo old >"$dir/stock_tracker-$old.dump"
  done
  BACKUP_DIR="$dir" BACKUP_KEEP=2 BACKUP_DATABASE_URL="$owner_url" scripts/backup.sh
  local dumps
  mapfile -t dumps < <(find "$dir" -name 'stock_tracker-*.dump' | sort)
  if [ ${#dumps[@]} -ne 2 ] || [ "$(basename "${dumps[0]}")" != stock_tracker-20240103T000000Z.dump ]; then
    echo "rotation kept ${#dumps[@]} dumps, expected the newest old one and the new one: ${dumps[*]}"
    return 1
  fi
  local dump="${dumps[1]}"
  echo "  dump $(basename "$dump"): $(du -h "$dump" | cut -f1)"

  pg_superuser -c "create database $restored owner stock_tracker_owner"
  local restored_url="${owner_url%/*}/$restored"
  RESTORE_DATABASE_URL="$restored_url" scripts/restore.sh "$dump"

  row_counts "$DB_NAME" >"$WORK/counts.source"
  row_counts "$restored" >"$WORK/counts.restored"
  local tables nonempty
  tables=$(wc -l <"$WORK/counts.source")
  nonempty=$(grep -cv '|0$' "$WORK/counts.source" || true)
  echo "  source: $tables tables, $nonempty with rows"
  grep -q '^public.stocks|[1-9]' "$WORK/counts.source" || { echo "the source database has no stock rows: nothing was compared"; return 1; }
  if ! diff -u "$WORK/counts.source" "$WORK/counts.restored"; then
    echo "row counts differ after the restore (above: - source, + restored)"
    return 1
  fi
  echo "  restored: identical row counts in all $tables tables"
  # The restored copy keeps row-level security and the application role's grants.
  local forced
  forced=$(pg_superuser -d "$restored" -tAc "select count(*) from pg_class where relforcerowsecurity")
  [ "$forced" -gt 0 ] || { echo "the restored database lost FORCE ROW LEVEL SECURITY"; return 1; }
  pg_superuser -d "$restored" -tAc "select has_table_privilege('stock_tracker_app', 'public.stocks', 'select')" | grep -q t ||
    { echo "the restored database lost the application role's grants"; return 1; }
  echo "  restored: row-level security forced on $forced tables, application grants kept"
}

# ------------------------------------------------------------------ main
started=$SECONDS
step "tools"
ops_ensure_tools
case " ${STEPS[*]} " in *" metrics "* | *" backup "*) step "PostgreSQL, Redis and the binaries"; live_prepare ;; esac
for s in "${STEPS[@]}"; do run_step "$s"; done
echo
echo "ops checks: ${#PASSED[@]} of ${#STEPS[@]} steps ok in $((SECONDS - started)) s${FAILED[*]:+; failed: ${FAILED[*]}}"
[ ${#FAILED[@]} -eq 0 ]
