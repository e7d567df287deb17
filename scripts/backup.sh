#!/usr/bin/env bash
# Dumps the Stock Tracker database with pg_dump (custom format, compressed) into BACKUP_DIR
# and keeps only the newest BACKUP_KEEP dumps.
#
#   BACKUP_DATABASE_URL  database to dump, as a URL or a libpq conninfo ("dbname=x"; PGHOST,
#                        PGUSER, PGPASSWORD apply) (default: DATABASE_OWNER_URL; the owner
#                        role sees every row: it owns the tables and has BYPASSRLS)
#   BACKUP_DIR           where dumps go (default /var/backups/stock-tracker)
#   BACKUP_KEEP          how many dumps to keep, newest first (default 14)
#   BACKUP_COMPRESS      pg_dump compression level 0-9 (default 6)
#
# Writes BACKUP_DIR/stock_tracker-YYYYMMDDTHHMMSSZ.dump atomically (a .partial file renamed
# once pg_dump succeeded and pg_restore can read its table of contents), prints its path,
# then deletes the oldest dumps beyond BACKUP_KEEP. Restore with scripts/restore.sh.
set -euo pipefail

url="${BACKUP_DATABASE_URL:-${DATABASE_OWNER_URL:-}}"
[ -n "$url" ] || { echo "backup: set BACKUP_DATABASE_URL (or DATABASE_OWNER_URL)" >&2; exit 2; }
dir="${BACKUP_DIR:-/var/backups/stock-tracker}"
keep="${BACKUP_KEEP:-14}"
level="${BACKUP_COMPRESS:-6}"
case "$keep" in '' | *[!0-9]* | 0) echo "backup: BACKUP_KEEP must be a positive number" >&2; exit 2 ;; esac
command -v pg_dump >/dev/null || { echo "backup: pg_dump not found (Debian: postgresql-client)" >&2; exit 2; }

mkdir -p "$dir"
umask 077
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
file="$dir/stock_tracker-$stamp.dump"
[ ! -e "$file" ] || { echo "backup: $file already exists" >&2; exit 1; }
partial="$file.partial"
trap 'rm -f "$partial"' EXIT

started=$(date +%s)
pg_dump --dbname="$url" --format=custom --compress="$level" --no-password --file="$partial"
pg_restore --list "$partial" >/dev/null # the archive is complete and readable
mv "$partial" "$file"
trap - EXIT
echo "backup: $file ($(du -h "$file" | cut -f1), $(($(date +%s) - started)) s)"

# Rotation: the names sort by time; delete all but the newest $keep.
mapfile -t old < <(find "$dir" -maxdepth 1 -name 'stock_tracker-*.dump' -type f | sort -r | tail -n +"$((keep + 1))")
for f in "${old[@]}"; do
  rm -f -- "$f"
  echo "backup: rotated out $f"
done
