#!/usr/bin/env bash
# Property-based check that the OpenAPI document tells the truth: schemathesis, with all of
# its checks, against the real api serving /openapi.json.
#
#   1. installs schemathesis (pinned in scripts/requirements-schemathesis.txt) into a
#      virtualenv under /var/cache/stock-tracker/schemathesis, reused across runs;
#   2. PostgreSQL and Redis as scripts/test.sh gets them (scripts/lib/prepare.sh), in a
#      throwaway database and Redis key prefix that it removes again;
#   3. builds and starts the WB sandbox, the api and the worker; registers a tenant, connects
#      a sandbox WB token and runs one sync, so the data endpoints have rows to answer with;
#   4. runs `schemathesis run` on http://127.0.0.1:PORT/openapi.json, all checks, every
#      phase, twice: with a real read-only API key of the tenant, then signed in with the
#      tenant owner's real access token (a JWT); each with deterministic
#      (derandomized) generation, no example database, one worker and a bounded number of
#      examples, so that two runs on the same code send the same requests but for the ids the
#      server hands out (about two minutes on 2 cores once the binaries are built).
#
# Exits non-zero when schemathesis reports any failure or error. Everything it starts is
# stopped, and what it created removed, on exit (also on failure or Ctrl-C).
#
# Usage: scripts/schemathesis.sh [extra schemathesis run options...]
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 100)
#   SCHEMATHESIS_KEEP=1        keep the work folder (logs, JUnit report, the document)
#   SCHEMATHESIS_REPORT_DIR    also copy the reports there (CI artefacts)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5 # keep in step with scripts/requirements-schemathesis.txt
REQUIREMENTS="$HERE/requirements-schemathesis.txt"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"

WORK="$(mktemp -d /tmp/schemathesis.XXXXXX)"
PIDS=()
CLEANUP=()
cleanup() {
  local rc=$? i
  if [ ${#PIDS[@]} -gt 0 ]; then
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
  if [ -n "${SCHEMATHESIS_REPORT_DIR:-}" ] && [ -d "$WORK/report" ]; then
    { mkdir -p "$SCHEMATHESIS_REPORT_DIR" && cp -a "$WORK/report/." "$SCHEMATHESIS_REPORT_DIR/"; } || true
  fi
  if [ "${SCHEMATHESIS_KEEP:-0}" = 1 ]; then echo "kept $WORK (SCHEMATHESIS_KEEP=1)"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ schemathesis itself
# shellcheck source=scripts/lib/ops-tools.sh
. "$HERE/lib/ops-tools.sh" # ops_apt_install: Debian packages without starting daemons

ensure_schemathesis() {
  local dir=/var/cache/stock-tracker/schemathesis
  mkdir -p "$dir" 2>/dev/null || dir="$HOME/.cache/stock-tracker/schemathesis"
  local venv="$dir/venv" want
  want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ] || [ ! -x "$venv/bin/schemathesis" ]; then
    echo "  installing schemathesis $SCHEMATHESIS_VERSION into $venv (PyPI)" >&2
    command -v python3 >/dev/null || ops_apt_install python3
    # Debian splits venv and ensurepip out of python3: a fresh machine may lack them.
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
      local v
      v="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      ops_apt_install python3-venv "python$v-venv" || ops_apt_install python3-venv
    fi
    mkdir -p "$dir"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$REQUIREMENTS" >/dev/null
    echo "$want" >"$venv/.installed"
  fi
  SCHEMATHESIS="$venv/bin/schemathesis"
  "$SCHEMATHESIS" --version | grep -q "$SCHEMATHESIS_VERSION" ||
    { echo "error: $SCHEMATHESIS is not version $SCHEMATHESIS_VERSION" >&2; return 1; }
}

# ------------------------------------------------------------------ the live system
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

fail() {
  echo "error: $*" >&2
  local f
  for f in "$WORK"/logs/*.log; do
    [ -e "$f" ] || continue
    echo "--- $f (last lines)"
    tail -n 20 "$f" | cut -c1-400
  done >&2
  exit 1
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# A fake Stripe at the HTTP level (Python's standard library), so that billing runs its real
# code instead of answering 503 `billing_not_configured`: the endpoints billing calls, as
# tests/src/stripe_fake.rs fakes them. No subscription ever exists there (no checkout is
# completed), so change-plan and cancel answer their documented 409.
start_fake_stripe() {
  STRIPE_PORT="$(free_port)"
  python3 - "$STRIPE_PORT" >"$WORK/logs/fake-stripe.log" 2>&1 <<'PY' &
import itertools, json, re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ids = itertools.count(1)

class Stripe(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def missing(self):
        self.answer(404, {"error": {"type": "invalid_request_error", "message": "No such subscription"}})

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/v1/subscriptions":
            self.answer(200, {"object": "list", "data": [], "has_more": False, "url": path})
        else:
            self.missing()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        n = next(ids)
        path = self.path.split("?")[0]
        if path == "/v1/customers":
            self.answer(200, {"id": f"cus_{n:06}", "object": "customer"})
        elif path == "/v1/checkout/sessions":
            self.answer(200, {"id": f"cs_test_{n:06}", "object": "checkout.session",
                              "url": f"https://checkout.stripe.test/c/pay/cs_test_{n:06}"})
        elif path == "/v1/billing_portal/sessions":
            self.answer(200, {"id": f"bps_{n:06}", "object": "billing_portal.session",
                              "url": f"https://billing.stripe.test/p/session/bps_{n:06}"})
        else:
            self.missing()

    def do_DELETE(self):
        self.missing()

    def log_message(self, fmt, *args):
        sys.stderr.write("fake stripe: " + (fmt % args) + "\n")

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stripe).serve_forever()
PY
  PIDS+=("$!")
  export STRIPE_SECRET_KEY=sk_test_schemathesis STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT/"
  export STRIPE_WEBHOOK_SECRETS=whsec_schemathesis
  export STRIPE_PRICE_STARTER=price_schemathesis_starter STRIPE_PRICE_PRO=price_schemathesis_pro
  export STRIPE_PRICE_ENTERPRISE=price_schemathesis_enterprise
}

start_system() {
  unset DATABASE_URL DATABASE_OWNER_URL DATABASE_JOBS_URL
  export DB_NAME="st_schemathesis_$$"
  # shellcheck source=scripts/lib/prepare.sh
  . "$HERE/lib/prepare.sh"
  prepare
  CLEANUP+=("stop_started_services")
  CLEANUP+=("pg_superuser -c 'drop database if exists $DB_NAME with (force)'")
  export REDIS_KEY_PREFIX="st-schemathesis-$$:"
  CLEANUP+=("redis-cli -u \"\$REDIS_URL\" --scan --pattern '$REDIS_KEY_PREFIX*' | xargs -r -d '\\n' redis-cli -u \"\$REDIS_URL\" del >/dev/null")

  say "building the api, the worker and the WB sandbox (a no-op when the tests built them)"
  cargo build --quiet -p stock-tracker-api -p stock-tracker-worker -p wb-sandbox --bins
  local bin="$CARGO_TARGET_DIR/debug"

  mkdir -p "$WORK/logs"
  API_BIND="127.0.0.1:$(free_port)"
  WB_SANDBOX_BIND="127.0.0.1:$(free_port)"
  WORKER_METRICS_BIND="127.0.0.1:$(free_port)"
  export API_BIND WB_SANDBOX_BIND WORKER_METRICS_BIND
  export PUBLIC_BASE_URL="http://$API_BIND" LOG_FORMAT=json RUST_LOG="${RUST_LOG:-info}"
  # The sandbox with WB's limits and our own WB budget off, and no simulated time passing:
  # the run stores hundreds of generated tokens (each checked against the sandbox), and
  # the data must not move under it.
  export WB_BASE_URL="http://$WB_SANDBOX_BIND" WB_SANDBOX=true
  export WB_SANDBOX_RATE_SCALE=0 WB_RATE_LIMIT_SCALE=0 WB_SANDBOX_DRAIN_SECS=0
  # The sandbox is our catalog entry, and mints personal tokens unless asked otherwise (as
  # scripts/run.sh): the run connects such a token.
  export WB_SERVICE_ID=7c0e7a52-5a3f-4d6b-9f1e-5b70c7d5a001 WB_ACCEPTED_TOKEN_TYPES=base,service,personal
  # One client address sends hundreds of sign-ups and sign-ins: the per-address throttle
  # (it has its own tests) would turn most of them into 429 and hide what they answer.
  export AUTH_RATE_LIMIT_BURST=100000 AUTH_RATE_LIMIT_PERIOD_MS=1
  # The access token is minted once, before the run; it must outlive it.
  export ACCESS_TOKEN_TTL_SECS=7200

  start_fake_stripe
  "$bin/stock-tracker-api" migrate >"$WORK/logs/migrate.log" 2>&1 || fail "migrate failed"
  local name role_url
  for name in wb-sandbox stock-tracker-api stock-tracker-worker; do
    # The worker connects as the jobs role, the rest as the api's.
    if [ "$name" = stock-tracker-worker ]; then role_url="$DATABASE_JOBS_URL"; else role_url="$DATABASE_URL"; fi
    DATABASE_URL="$role_url" "$bin/$name" >"$WORK/logs/$name.log" 2>&1 &
    PIDS+=("$!")
  done
  API="http://$API_BIND"
  local i
  for i in $(seq 1 150); do
    curl -fsS "$API/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "$API/health/ready" >/dev/null || fail "the api did not become ready"

  say "registering a tenant, connecting a sandbox WB token, syncing once"
  local body wb
  body='{"email":"schemathesis@stock-tracker.test","password":"schemathesis passphrase","company_name":"Schemathesis"}'
  TOKEN="$(curl -fsS "$API/api/v1/auth/register" -H 'content-type: application/json' -d "$body" | json_field access_token)" ||
    fail "could not register a tenant"
  wb="$(curl -fsS "$WB_BASE_URL/__sandbox/tokens" -H 'content-type: application/json' -d '{"seller_id": 1}' | json_field token)" ||
    fail "the sandbox gave no token"
  curl -fsS -o /dev/null -X PUT "$API/api/v1/wb/credentials" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "{\"token\":\"$wb\"}" || fail "could not store the WB token"
  curl -fsS -o /dev/null -X POST "$API/api/v1/sync" -H "authorization: Bearer $TOKEN" || fail "could not queue a sync"
  for i in $(seq 1 300); do
    curl -fsS "$API/api/v1/sync/status" -H "authorization: Bearer $TOKEN" | grep -q '"last_success_at":"' && break
    sleep 0.2
  done
  curl -fsS "$API/api/v1/sync/status" -H "authorization: Bearer $TOKEN" | grep -q '"last_success_at":"' ||
    fail "the sandbox sync did not succeed"
  echo "  synced: $(curl -fsS "$API/api/v1/products?limit=1" -H "authorization: Bearer $TOKEN" | cut -c1-120)…"
  API_KEY="$(curl -fsS "$API/api/v1/api-keys" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name": "schemathesis", "scope": "read"}' | json_field secret)" || fail "could not create an API key"
}

# ------------------------------------------------------------------ the run
# What is left out, and why. Nothing else is: every operation, every check, every phase.
# Each exclusion is as narrow as it can be: a filter_failure hook (written below) drops a
# "schema-valid request rejected" (ST202) failure only for these answers. The first three
# refuse a value whose validity lies in content no schema can describe (so no generator makes
# a valid one); the last is an API-wide rule the document states once in prose:
#
#  - POST /api/v1/billing/webhook answering 400 `invalid_signature` / `stale_signature`: the
#    Stripe-Signature header is an HMAC of the body under the webhook secret.
#  - PUT /api/v1/wb/credentials answering 422 `token_*` (`token_not_jwt`, `token_expired`, …):
#    a WB token is a JWT signed by WB with a seller id, an expiry and scopes.
#  - any paged route answering 422 `invalid_cursor` (field `cursor`) to a non-empty cursor: a
#    cursor is valid only when the server issued it (an empty one must mean the first page).
#  - any route answering 422 `invalid_range` (field `from`) when the generated `from` is after
#    `to`: a rule between two parameters, which JSON Schema cannot state.
#  - any route answering 422 `invalid_text` naming a documented parameter or top-level body
#    property whose generated value holds U+0000: PostgreSQL text cannot store NUL, and the
#    api refuses it in every text input (a rule of the whole API, stated once in the
#    document's description rather than as a pattern on every string). NUL is still
#    generated, so a NUL that reaches the database (a 500) still fails the run.
#
# Every other failure of every check stands, and those dropped are counted in the output
# ("dropped by filter_failure"). 503 `billing_not_configured` is not excluded: billing talks
# to a fake Stripe instead.
write_config() {
  cat >"$WORK/schemathesis.toml" <<TOML
# Written by scripts/schemathesis.sh: see the exclusions there.
workers = 1
continue-on-failure = true
[generation]
deterministic = true
database = "none"
max-examples = $MAX_EXAMPLES
[checks]
enabled = true
TOML
  cat >"$WORK/hooks.py" <<'PY'
"""scripts/schemathesis.sh's exclusions: see the comment above write_config there."""
import json
import os

import schemathesis

TOKEN_CODES = {"token_not_jwt", "token_expired", "token_type", "token_rejected",
               "token_missing_categories", "token_test_not_allowed",
               "token_type_not_accepted", "token_for_other_service"}
# (operation, status) -> the problem codes a schema-valid request may be refused with.
REFUSALS = {
    ("POST /api/v1/billing/webhook", 400): {"invalid_signature", "stale_signature"},
    ("PUT /api/v1/wb/credentials", 422): TOKEN_CODES,
}


def documented_fields(path):
    """Operation label -> the names of its parameters and top-level body properties."""
    doc = json.load(open(path))

    def resolve(schema):
        for _ in range(16):
            ref = schema.get("$ref") if isinstance(schema, dict) else None
            if not ref:
                return schema
            schema = doc
            for key in ref.lstrip("#/").split("/"):
                schema = schema.get(key, {})
        return schema

    fields = {}
    for route, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            names = {p.get("name") for p in op.get("parameters", [])}
            for media in op.get("requestBody", {}).get("content", {}).values():
                names |= set(resolve(media.get("schema", {})).get("properties", {}))
            fields[f"{method.upper()} {route}"] = names
    return fields


FIELDS = documented_fields(os.environ["SCHEMATHESIS_DOCUMENT"])


def holds_nul(case, field):
    for values in (case.query, case.body if isinstance(case.body, dict) else None):
        value = (values or {}).get(field)
        if isinstance(value, str) and "\x00" in value:
            return True
    return False


def from_after_to(start, end):
    from datetime import datetime
    try:
        parse = lambda v: datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        return parse(start) > parse(end)
    except (TypeError, ValueError):
        return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    try:
        problem = response.json()
    except Exception:
        return True
    if not isinstance(problem, dict):
        return True
    code = problem.get("code")
    if code in REFUSALS.get((f"{case.method.upper()} {case.path}", response.status_code), ()):
        return False
    label = f"{case.method.upper()} {case.path}"
    field = problem.get("field")
    if (response.status_code == 422 and code == "invalid_text"
            and field in FIELDS.get(label, ()) and holds_nul(case, field)):
        return False
    query = case.query or {}
    if (response.status_code == 422 and code == "invalid_range" and field == "from"
            and from_after_to(query.get("from"), query.get("to"))):
        return False
    cursor = query.get("cursor")
    if (response.status_code == 422 and code == "invalid_cursor"
            and problem.get("field") == "cursor" and cursor not in (None, "")):
        return False
    return True
PY
}

# One line per failure (operation, check, what came back), from schemathesis' report above.
summarise() {
  python3 - "$1" <<'PY'
import re, sys
op, check, rows = None, None, []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"^_{3,} (\S+ \S+) _{3,}$", line)
    if m:
        op = m.group(1)
        continue
    m = re.match(r"^- (ST\d+ .*)$", line)
    if m and op:
        check = m.group(1)
        rows.append([op, check, ""])
        continue
    m = re.match(r"^\[(\d{3})\] ", line)
    if m and rows and not rows[-1][2]:
        rows[-1][2] = m.group(1)
    m = re.match(r"^\s+curl (.*)$", line)
    if m and rows and len(rows[-1]) == 3:
        rows[-1].append("curl " + m.group(1))
if rows:
    print(f"schemathesis failures ({len(rows)}), one per line: operation | check | status | reproduction")
    for r in rows:
        print("  " + " | ".join(r))
PY
}

# One schemathesis run signed in as $2 (a bearer credential), reports under report/$1.
run_schemathesis() {
  local name="$1" credential="$2"
  shift 2
  local report="$WORK/report/$name"
  mkdir -p "$report"
  say "schemathesis $SCHEMATHESIS_VERSION as $name: all checks, every phase, deterministic, $MAX_EXAMPLES examples per operation"
  local rc=0 started=$SECONDS
  # In the work folder: schemathesis keeps a .schemathesis/ cache in the current directory.
  (
    cd "$WORK"
    SCHEMATHESIS_HOOKS="$WORK/hooks.py" SCHEMATHESIS_DOCUMENT="$WORK/report/openapi.json" \
      "$SCHEMATHESIS" --config-file "$WORK/schemathesis.toml" run "$API/openapi.json" \
      --checks all \
      --header "Authorization: Bearer $credential" \
      --request-timeout 15 \
      --no-color \
      --report junit --report-dir "$report" \
      "$@" 2>&1 | tee "$report/output.txt"
  ) || rc=$?
  echo
  if [ "$rc" -ne 0 ]; then summarise "$report/output.txt"; fi
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("as $name: no failures ($((SECONDS - started)) s)")
  else
    RESULTS+=("as $name: FAILED, $(grep -cE '^- ST[0-9]+ ' "$report/output.txt" || true) failures ($((SECONDS - started)) s)")
  fi
  return "$rc"
}

# Both callers the API has: a team member signed in (a JWT access token) and a seller's own
# tool (a read-only API key), each against the same document. The key goes first: the
# owner's run may revoke keys it finds.
run_all() {
  write_config
  mkdir -p "$WORK/report"
  curl -fsS "$API/openapi.json" >"$WORK/report/openapi.json"
  RESULTS=()
  local rc=0
  run_schemathesis api-key "$API_KEY" "$@" || rc=1
  run_schemathesis owner "$TOKEN" "$@" || rc=1
  echo
  echo "schemathesis summary:"
  printf '  %s\n' "${RESULTS[@]}"
  if [ "$rc" -ne 0 ]; then
    echo "schemathesis: FAILED; the api log is $WORK/logs/stock-tracker-api.log (SCHEMATHESIS_KEEP=1 keeps it)"
  fi
  return "$rc"
}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# Sourced (`. scripts/schemathesis.sh`), it only defines the functions above: handy to
# start the system by hand (start_system) and try a reproduction against $API with $TOKEN
# (the owner's access token) or $API_KEY.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  say "schemathesis"
  ensure_schemathesis
  start_system
  run_all "$@"
fi
