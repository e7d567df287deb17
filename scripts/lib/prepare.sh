# Shared preparation for run.sh and test.sh (sourced, not executed).
#
# Makes PostgreSQL and Redis available, creates the roles and database, and exports the
# variables the binaries and tests read (DATABASE_URL for the api, DATABASE_JOBS_URL for
# the worker and scheduler, DATABASE_JOBS_ROLE and DATABASE_OWNER_URL for migrate). Uses the servers at DATABASE_URL / REDIS_URL when
# they answer; otherwise starts local ones, installing Debian's packages if missing.
# Everything it starts is listed in STARTED_SERVICES so the caller can stop it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$ROOT/.run"
mkdir -p "$RUN_DIR/logs"
STARTED_SERVICES=()

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stock-tracker/target}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

apt_install() {
  say "installing $* (Debian packages)"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
OWNER_ROLE=stock_tracker_owner
APP_ROLE=stock_tracker_app
JOBS_ROLE=stock_tracker_jobs
DB_NAME="${DB_NAME:-stock_tracker}"
# Local development passwords; production sets DATABASE_URL / DATABASE_OWNER_URL itself.
OWNER_PASSWORD=owner-dev-password
APP_PASSWORD=app-dev-password
JOBS_PASSWORD=jobs-dev-password

pg_superuser() {
  # Trust auth over TCP (CI machines), else peer auth as the postgres OS user (fresh Debian).
  if psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"
  else
    as_root runuser -u postgres -- psql -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -q "$@"
  fi
}

start_local_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
  [ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL did not come up on $PG_HOST:$PG_PORT"
  STARTED_SERVICES+=("postgres:$version")
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -d "$DATABASE_URL"; then
    [ -n "${DATABASE_OWNER_URL:-}" ] || die "DATABASE_URL is set; set DATABASE_OWNER_URL (the tables' owner) too"
    [ -n "${DATABASE_JOBS_URL:-}" ] || die "DATABASE_URL is set; set DATABASE_JOBS_URL (the worker's and scheduler's role) too"
    local jobs_user="${DATABASE_JOBS_URL#*://}"
    export DATABASE_JOBS_ROLE="${DATABASE_JOBS_ROLE:-${jobs_user%%[:@]*}}"
    say "using PostgreSQL at DATABASE_URL"
    return
  fi
  command -v psql >/dev/null || apt_install postgresql postgresql-client
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || start_local_postgres
  say "creating roles and database (idempotent)"
  pg_superuser <<SQL
do \$\$ begin
  if not exists (select from pg_roles where rolname = '$OWNER_ROLE') then
    create role $OWNER_ROLE login createdb bypassrls password '$OWNER_PASSWORD';
  end if;
  if not exists (select from pg_roles where rolname = '$APP_ROLE') then
    create role $APP_ROLE login nosuperuser nobypassrls nocreatedb password '$APP_PASSWORD';
  end if;
  if not exists (select from pg_roles where rolname = '$JOBS_ROLE') then
    create role $JOBS_ROLE login nosuperuser nobypassrls nocreatedb password '$JOBS_PASSWORD';
  end if;
end \$\$;
-- The owner runs migrations and owns the cross-tenant functions; the api's role and the
-- worker's and scheduler's role never bypass row-level security, and only the latter may
-- call the cross-tenant maintenance functions (granted by migrate).
alter role $OWNER_ROLE bypassrls createdb;
alter role $APP_ROLE nosuperuser nobypassrls;
alter role $JOBS_ROLE nosuperuser nobypassrls;
SQL
  if ! pg_superuser -tAc "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1; then
    pg_superuser -c "create database $DB_NAME owner $OWNER_ROLE"
  fi
  export DATABASE_URL="postgres://$APP_ROLE:$APP_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME"
  export DATABASE_OWNER_URL="postgres://$OWNER_ROLE:$OWNER_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME"
  # The worker and the scheduler connect as DATABASE_JOBS_URL (callers set DATABASE_URL to
  # it for them); migrate reads the role's name.
  export DATABASE_JOBS_URL="postgres://$JOBS_ROLE:$JOBS_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME"
  export DATABASE_JOBS_ROLE="$JOBS_ROLE"
}

# ---------------------------------------------------------------- Redis
ensure_redis() {
  command -v redis-cli >/dev/null || apt_install redis-tools
  if [ -n "${REDIS_URL:-}" ] && redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    say "using Redis at REDIS_URL"
    return
  fi
  export REDIS_URL="redis://127.0.0.1:6379"
  if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    command -v redis-server >/dev/null || apt_install redis-server
    say "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/stock-tracker.log
    for _ in $(seq 1 20); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.5; done
    redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "Redis did not come up"
    STARTED_SERVICES+=("redis")
  fi
}

# ---------------------------------------------------------------- Rust toolchain
ensure_toolchain() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) 1.94 or newer"
  command -v cc >/dev/null || apt_install build-essential
  command -v curl >/dev/null || apt_install curl ca-certificates
}

# ---------------------------------------------------------------- secrets for local runs
# Generated once per checkout and kept in .run/ (git-ignored), so sessions survive restarts.
ensure_dev_secrets() {
  local file="$RUN_DIR/dev-secrets.env"
  if [ ! -f "$file" ]; then
    umask 077
    {
      echo "JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
      echo "CREDENTIALS_KEYS=dev1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    } > "$file"
  fi
  set -a
  # shellcheck disable=SC1090
  . "$file"
  set +a
  export JWT_SECRET="${JWT_SECRET}" CREDENTIALS_KEYS="${CREDENTIALS_KEYS}"
  export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:8000}"
  export LOG_FORMAT="${LOG_FORMAT:-pretty}"
}

stop_started_services() {
  local s
  for s in "${STARTED_SERVICES[@]}"; do
    case "$s" in
      postgres:*) say "stopping PostgreSQL"; as_root pg_ctlcluster --skip-systemctl-redirect "${s#postgres:}" main stop || true ;;
      redis) say "stopping Redis"; redis-cli -u "$REDIS_URL" shutdown nosave >/dev/null 2>&1 || true ;;
    esac
  done
}

prepare() {
  ensure_toolchain
  ensure_postgres
  ensure_redis
  ensure_dev_secrets
}
