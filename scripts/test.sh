#!/usr/bin/env bash
# Runs the whole test suite against real PostgreSQL and Redis (started if needed).
# Each test gets a fresh database cloned from a migrated template.
. "$(dirname "$0")/lib/prepare.sh"
trap stop_started_services EXIT
prepare
cd "$ROOT"
say "building and running the tests"
if command -v cargo-nextest >/dev/null || cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
