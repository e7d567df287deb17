#!/usr/bin/env bash
# Restores a dump made by scripts/backup.sh into an empty database.
#
#   scripts/restore.sh DUMP_FILE
#   RESTORE_DATABASE_URL  the database to restore into (required; connect as the tables'
#                         owner role, stock_tracker_owner). It must exist and hold no tables:
#                         create a fresh one, restore, check, then point the services at it
#                         (docs/OPERATIONS.md, "Restore a backup").
#   RESTORE_JOBS          parallel pg_restore jobs (default 2)
#
# Everything is restored: tables and rows, row-level security policies, the grants to the
# application role, and the job queue's schema. The roles themselves are cluster-wide and
# are not in the dump: create stock_tracker_owner and stock_tracker_app first on a new server.
set -euo pipefail

dump="${1:-}"
if [ -z "$dump" ] || [ ! -f "$dump" ]; then
  echo "usage: RESTORE_DATABASE_URL=postgres://… $0 DUMP_FILE" >&2
  exit 2
fi
url="${RESTORE_DATABASE_URL:-}"
[ -n "$url" ] || { echo "restore: set RESTORE_DATABASE_URL to an empty database" >&2; exit 2; }
jobs="${RESTORE_JOBS:-2}"
command -v pg_restore >/dev/null || { echo "restore: pg_restore not found (Debian: postgresql-client)" >&2; exit 2; }

pg_restore --list "$dump" >/dev/null || { echo "restore: $dump is not a readable pg_dump archive" >&2; exit 1; }
tables="$(psql "$url" --no-password -tAc \
  "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')")"
if [ "$tables" != 0 ]; then
  echo "restore: the target database already has $tables tables; restore into a fresh, empty one" >&2
  exit 1
fi

started=$(date +%s)
pg_restore --dbname="$url" --no-password --exit-on-error --jobs="$jobs" "$dump"
# Fresh statistics for the planner (the shared catalogs are the superuser's: quietly skipped).
PGOPTIONS='-c client_min_messages=error' psql "$url" --no-password -q -c 'analyze'
echo "restore: $dump restored ($(($(date +%s) - started)) s)"
