#!/usr/bin/env bash
# Client tools the spacepulse tests use, installed only when missing:
#   kcat               (Debian)  Kafka client for interop tests
#   protoc             (Debian protobuf-compiler)
#   docker-compose     (Debian, 1.29) validates deployments/compose (config only, no engine)
#   chdb               (PyPI)    current ClickHouse engine in-process, for SQL tests
#
#   deployments/local/tools.sh install
#
# Env: SPACEPULSE_PYTHON (default python3), SPACEPULSE_CHDB_SPEC (pip
# requirement, default "chdb").
set -euo pipefail

LOG_TAG=tools
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${SPACEPULSE_PYTHON:-python3}"
CHDB_SPEC="${SPACEPULSE_CHDB_SPEC:-chdb}"

install_debian_tools() {
  local -a missing=()
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

install_chdb() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install python3 python3-pip
  fi
  "$PYTHON" -c 'import chdb' >/dev/null 2>&1 && return 0
  "$PYTHON" -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  log "pip install $CHDB_SPEC"
  local out
  # Quiet: no "running pip as root" / script-location warnings.
  export PIP_ROOT_USER_ACTION=ignore
  if ! out=$("$PYTHON" -m pip install -q --disable-pip-version-check --no-warn-script-location "$CHDB_SPEC" 2>&1); then
    if grep -q 'externally-managed-environment' <<<"$out"; then
      # Debian's own python3 refuses pip installs (PEP 668) unless told.
      "$PYTHON" -m pip install -q --disable-pip-version-check --no-warn-script-location --break-system-packages "$CHDB_SPEC"
    else
      echo "$out" >&2
      die "pip install $CHDB_SPEC failed"
    fi
  fi
  "$PYTHON" -c 'import chdb' || die "chdb installed but cannot be imported by $PYTHON"
  log "chdb $("$PYTHON" -c 'import chdb; print(chdb.__version__)') installed"
}

case "${1:-}" in
  install)
    install_debian_tools
    install_chdb
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
