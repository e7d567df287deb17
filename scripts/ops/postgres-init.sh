#!/usr/bin/env bash
# First start of the postgres container (docker-compose.yml mounts this file into
# /docker-entrypoint-initdb.d; it runs once, on an empty data volume): creates the three roles
# Stock Tracker needs and hands the database to the owner role.
#
#   stock_tracker_owner  owns the tables and the cross-tenant SECURITY DEFINER functions,
#                        runs migrations and key rotation: BYPASSRLS, CREATEDB, not superuser
#   stock_tracker_app    what the api connects as: neither owner nor superuser nor BYPASSRLS
#                        (the binaries refuse to start otherwise)
#   stock_tracker_jobs   what the worker and the scheduler connect as: the same, and the only
#                        role `migrate` grants the cross-tenant maintenance functions
#
# Reads OWNER_DB_PASSWORD, APP_DB_PASSWORD and JOBS_DB_PASSWORD; passwords are passed to psql
# as variables, never spliced into SQL text. Idempotent, so also the way to add a role to an
# existing server (the entrypoint runs it only on an empty volume), by hand:
#   OWNER_DB_PASSWORD=… APP_DB_PASSWORD=… JOBS_DB_PASSWORD=… POSTGRES_DB=stock_tracker \
#     PGHOST=… PGUSER=postgres scripts/ops/postgres-init.sh
set -euo pipefail
: "${OWNER_DB_PASSWORD:?OWNER_DB_PASSWORD is not set}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set}"
: "${JOBS_DB_PASSWORD:?JOBS_DB_PASSWORD is not set}"
db="${POSTGRES_DB:-stock_tracker}"

psql -v ON_ERROR_STOP=1 -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v owner_password="$OWNER_DB_PASSWORD" -v app_password="$APP_DB_PASSWORD" \
  -v jobs_password="$JOBS_DB_PASSWORD" -v db="$db" <<'SQL'
select format('create role stock_tracker_owner login')
 where not exists (select from pg_roles where rolname = 'stock_tracker_owner') \gexec
select format('create role stock_tracker_app login')
 where not exists (select from pg_roles where rolname = 'stock_tracker_app') \gexec
select format('create role stock_tracker_jobs login')
 where not exists (select from pg_roles where rolname = 'stock_tracker_jobs') \gexec
alter role stock_tracker_owner nosuperuser createdb bypassrls password :'owner_password';
alter role stock_tracker_app nosuperuser nocreatedb nobypassrls password :'app_password';
alter role stock_tracker_jobs nosuperuser nocreatedb nobypassrls password :'jobs_password';
select format('create database %I owner stock_tracker_owner', :'db')
 where not exists (select from pg_database where datname = :'db') \gexec
select format('alter database %I owner to stock_tracker_owner', :'db') \gexec
SQL
echo "postgres-init: roles stock_tracker_owner, stock_tracker_app and stock_tracker_jobs ready; database $db owned by stock_tracker_owner"
