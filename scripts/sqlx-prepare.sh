#!/usr/bin/env bash
# The offline query data in .sqlx/ that sqlx's checked macros (query!, query_as!, ...) build
# from when SQLX_OFFLINE=true (.cargo/config.toml), so that building needs no database.
#
#   scripts/sqlx-prepare.sh           rewrite .sqlx/ after changing a query or a migration
#   scripts/sqlx-prepare.sh --check   fail if .sqlx/ is stale: a query is missing or differs,
#                                     or a file no query uses is left over (CI runs this)
#
# Both describe every query of the workspace against a freshly migrated throwaway database
# (our migrations and apalis-postgres's), created with the owner role that scripts/lib/prepare.sh
# sets up (installing PostgreSQL if needed), and dropped afterwards. Installs sqlx-cli if missing.
# shellcheck source=scripts/lib/prepare.sh
. "$(dirname "$0")/lib/prepare.sh"

SQLX_CLI_VERSION=0.9.0
CHECK_DB="${DB_NAME}_sqlx_prepare"
MODE="write"
case "${1:-}" in
  --check) MODE=check ;;
  "") ;;
  *) die "usage: scripts/sqlx-prepare.sh [--check]" ;;
esac

ensure_sqlx_cli() {
  if cargo sqlx --version 2>/dev/null | grep -q " $SQLX_CLI_VERSION\$"; then return; fi
  say "installing sqlx-cli $SQLX_CLI_VERSION"
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --no-default-features \
    --features postgres,rustls,sqlx-toml --locked
}

# Same server and owner role as DATABASE_OWNER_URL, another database.
db_url() { printf '%s/%s' "${DATABASE_OWNER_URL%/*}" "$1"; }

drop_check_db() {
  psql "$(db_url postgres)" -v ON_ERROR_STOP=1 -q -c "drop database if exists $CHECK_DB (force)" || true
}

cleanup() {
  drop_check_db
  stop_started_services
}

ensure_toolchain
ensure_postgres
ensure_sqlx_cli
trap cleanup EXIT
cd "$ROOT" || exit 1

say "migrating a fresh database ($CHECK_DB)"
drop_check_db
psql "$(db_url postgres)" -v ON_ERROR_STOP=1 -q -c "create database $CHECK_DB"
export DATABASE_URL
DATABASE_URL="$(db_url "$CHECK_DB")"
cargo sqlx migrate run --source migrations >/dev/null
# The job queue's schema, from the apalis-postgres sources cargo resolved (its sqlx.toml
# puts it in the `apalis` schema with its own history table), as `migrate` applies it.
apalis_dir="$(cargo metadata --format-version 1 --locked \
  | grep -o '"manifest_path":"[^"]*/apalis-postgres-[^"/]*/Cargo.toml"' | head -n1 | cut -d'"' -f4)"
[ -n "$apalis_dir" ] || die "apalis-postgres not found in cargo metadata"
apalis_dir="$(dirname "$apalis_dir")"
cargo sqlx migrate run --source "$apalis_dir/migrations" --config "$apalis_dir/sqlx.toml" >/dev/null

# Build everything offline first, as developers and the Dockerfile do (no database). This
# also leaves the dependencies compiled, so `cargo sqlx prepare` recompiles only the
# workspace's crates: apalis-postgres's own macros never run against the database, and their
# queries never land among ours. When rewriting, our crates may fail here (a new query has no
# data yet); --keep-going still builds every dependency.
say "cargo check, offline (SQLX_OFFLINE=true)"
if ! SQLX_OFFLINE=true cargo check --workspace --all-targets --locked --keep-going; then
  [ "$MODE" = write ] || die "the offline build fails: a query without data in .sqlx? run scripts/sqlx-prepare.sh and commit .sqlx/"
  say "the offline build fails before rewriting .sqlx (expected for a new or changed query)"
fi

if [ "$MODE" = check ]; then
  say "checking .sqlx against the database"
  log="$(mktemp)"
  if ! cargo sqlx prepare --workspace --check -- --all-targets --locked 2>&1 | tee "$log"; then
    rm -f "$log"
    die ".sqlx is stale: run scripts/sqlx-prepare.sh and commit .sqlx/"
  fi
  if grep -q "potentially unused queries" "$log"; then
    rm -f "$log"
    die ".sqlx holds query files no query uses: run scripts/sqlx-prepare.sh and commit .sqlx/"
  fi
  rm -f "$log"
  say ".sqlx is up to date"
else
  say "writing .sqlx"
  cargo sqlx prepare --workspace -- --all-targets --locked
  git -C "$ROOT" status --short -- .sqlx
fi
