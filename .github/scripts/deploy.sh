#!/usr/bin/env bash
# Deploys the image tagged IMAGE_TAG to DEPLOY_HOST over SSH (called by
# .github/workflows/deploy-environment.yml; usable by hand with the same variables):
#
#   1. copies the deployment files of this commit (compose file, monitoring, nginx, backup
#      scripts) into DEPLOY_PATH; the host's .env stays as it is, but for IMAGE_TAG;
#   2. takes a backup (scripts/backup.sh in the postgres container), pulls the images, runs
#      the migrations (the one-shot migrate service);
#   3. rolls the services one at a time, each waiting to be healthy: api (then nginx reloads
#      to pick up the new container), worker (as many replicas as WORKER_REPLICAS), scheduler;
#      Prometheus reloads its rules and Grafana its dashboards;
#   4. checks /health/ready on the host.
#
# Needs: DEPLOY_HOST, DEPLOY_USER, DEPLOY_PATH, IMAGE_TAG; DEPLOY_SSH_KEY (a private key) and
# DEPLOY_KNOWN_HOSTS (the host's known_hosts lines) unless ssh is already set up.
set -euo pipefail
: "${DEPLOY_HOST:?}" "${DEPLOY_USER:?}" "${DEPLOY_PATH:?}" "${IMAGE_TAG:?}"
cd "$(dirname "$0")/../.."

ssh_dir="$(mktemp -d)"
trap 'rm -rf "$ssh_dir"' EXIT
ssh_opts=(-o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=30)
if [ -n "${DEPLOY_SSH_KEY:-}" ]; then
  install -m 600 /dev/null "$ssh_dir/key"
  printf '%s\n' "$DEPLOY_SSH_KEY" >"$ssh_dir/key"
  ssh_opts+=(-i "$ssh_dir/key" -o IdentitiesOnly=yes)
fi
if [ -n "${DEPLOY_KNOWN_HOSTS:-}" ]; then
  printf '%s\n' "$DEPLOY_KNOWN_HOSTS" >"$ssh_dir/known_hosts"
  ssh_opts+=(-o UserKnownHostsFile="$ssh_dir/known_hosts" -o StrictHostKeyChecking=yes)
fi
target="$DEPLOY_USER@$DEPLOY_HOST"

echo "==> copying the deployment files of $IMAGE_TAG to $target:$DEPLOY_PATH"
# shellcheck disable=SC2029 # the path is meant to be expanded here
tar czf - docker-compose.yml .env.example monitoring nginx/nginx.conf \
  scripts/backup.sh scripts/restore.sh scripts/ops/postgres-init.sh |
  ssh "${ssh_opts[@]}" "$target" "mkdir -p '$DEPLOY_PATH' && tar xzf - -C '$DEPLOY_PATH'"

echo "==> deploying on $DEPLOY_HOST"
# The remote part runs under bash -s with the tag as its argument; everything in it is
# literal (quoted heredoc), so nothing from this machine is expanded into it by accident.
# shellcheck disable=SC2029 # the path and the tag are meant to be expanded here
ssh "${ssh_opts[@]}" "$target" "cd '$DEPLOY_PATH' && bash -s -- '$IMAGE_TAG'" <<'REMOTE'
set -euo pipefail
tag="$1"
[ -f .env ] || { echo "no .env in $PWD: copy .env.example to .env and fill it in first" >&2; exit 1; }
chmod 600 .env
# Redis requires a password since docker-compose.yml set requirepass. Nobody types it (the
# services get it in REDIS_URL), so a host set up before then gets a random one here rather
# than a deploy that stops on the missing variable.
if ! grep -q '^REDIS_PASSWORD=.' .env; then
  sed -i '/^REDIS_PASSWORD=/d' .env
  echo "REDIS_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>.env
  echo "--> generated REDIS_PASSWORD in .env"
fi
if grep -q '^IMAGE_TAG=' .env; then
  sed -i "s/^IMAGE_TAG=.*/IMAGE_TAG=$tag/" .env
else
  echo "IMAGE_TAG=$tag" >>.env
fi
compose() { docker compose "$@"; }
profiles=()
if [ -f nginx/certs/fullchain.pem ] || grep -q '^TLS_CERT_DIR=' .env; then profiles+=(--profile prod); fi

echo "--> backup before migrating"
if [ -n "$(compose ps -q postgres 2>/dev/null)" ]; then
  compose exec -T postgres sh -c 'PGHOST=127.0.0.1 PGUSER=stock_tracker_owner PGPASSWORD="$OWNER_DB_PASSWORD" \
    BACKUP_DIR=/backups BACKUP_DATABASE_URL="dbname=$POSTGRES_DB" stock-tracker-backup'
fi

echo "--> pull $tag"
compose "${profiles[@]}" pull --quiet

echo "--> postgres and redis"
compose up -d --wait --wait-timeout 120 postgres redis

echo "--> migrate"
compose run --rm --no-deps migrate

echo "--> api"
compose up -d --no-deps --wait --wait-timeout 120 api
if [ -n "$(compose ps -q nginx 2>/dev/null)" ]; then
  # nginx resolves the api's address when it loads its config: reload it to pick up the new
  # container (and any change to nginx.conf).
  compose exec -T nginx nginx -t
  compose exec -T nginx nginx -s reload
elif [ ${#profiles[@]} -gt 0 ]; then
  compose "${profiles[@]}" up -d --no-deps --wait --wait-timeout 60 nginx
fi

echo "--> worker and scheduler"
compose up -d --no-deps --wait --wait-timeout 120 worker
compose up -d --no-deps --wait --wait-timeout 120 scheduler

echo "--> monitoring"
compose up -d --no-deps --wait --wait-timeout 120 prometheus grafana
compose kill -s SIGHUP prometheus >/dev/null # re-reads prometheus.yml and the rules

echo "--> smoke test"
port="$(sed -n 's/^API_HOST_PORT=//p' .env)"
curl -fsS --retry 10 --retry-delay 3 --retry-all-errors --max-time 10 \
  "http://127.0.0.1:${port:-8000}/health/ready"
echo
compose ps
docker image prune -f --filter "until=168h" >/dev/null || true
echo "deployed $tag"
REMOTE
