#!/usr/bin/env bash
# Local ClickHouse for spacepulse tests: Debian's clickhouse-server run as a
# plain background process with the project's own config, on loopback.
#
#   deployments/local/clickhouse.sh install   # apt-get install if missing
#   deployments/local/clickhouse.sh start     # idempotent; waits until it answers
#   deployments/local/clickhouse.sh stop
#   deployments/local/clickhouse.sh status    # exit 0 if it answers
#
# Env: SPACEPULSE_RUN_DIR (default <repo>/.run), SPACEPULSE_CLICKHOUSE_PORT
# (native, default 9000), SPACEPULSE_CLICKHOUSE_HTTP_PORT (default 8123),
# SPACEPULSE_CLICKHOUSE_TLS_PORT (native over TLS, default 9440),
# SPACEPULSE_CLICKHOUSE_START_TIMEOUT (seconds, default 60),
# SPACEPULSE_CLICKHOUSE_CONFIG_D (a directory whose *.xml files are copied to
# $RUN/clickhouse/etc/config.d/ on every start, where the server merges them
# into config.xml: cluster-up.sh gives each node its ZooKeeper, macros,
# remote_servers, interserver port and smaller caches this way; default none),
# SPACEPULSE_CLICKHOUSE_USERS_D (likewise into $RUN/clickhouse/etc/users.d/,
# merged into users.xml: cluster-up.sh sets load_balancing there).
#
# The TLS port serves a certificate for 127.0.0.1 and localhost signed by a
# CA of our own, both made once by `start` in $RUN/clickhouse/tls/; clients
# trust $RUN/clickhouse/tls/ca.pem.
#
# The Grafana datasource's read-only user, spacepulse_grafana, has a random
# password made once by `start` in $RUN/clickhouse/grafana.password (0600);
# users.xml gets its SHA-256. `start` on a running server of ours rewrites
# users.xml, which the server reloads by itself within seconds.
#
# The package's own init script / systemd unit is never used.
set -euo pipefail

LOG_TAG=clickhouse
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TCP_PORT="${SPACEPULSE_CLICKHOUSE_PORT:-9000}"
HTTP_PORT="${SPACEPULSE_CLICKHOUSE_HTTP_PORT:-8123}"
TLS_PORT="${SPACEPULSE_CLICKHOUSE_TLS_PORT:-9440}"
START_TIMEOUT="${SPACEPULSE_CLICKHOUSE_START_TIMEOUT:-60}"
CONFIG_D_SRC="${SPACEPULSE_CLICKHOUSE_CONFIG_D:-}"
USERS_D_SRC="${SPACEPULSE_CLICKHOUSE_USERS_D:-}"

CH_DIR="$RUN_DIR/clickhouse"
ETC_DIR="$CH_DIR/etc"
CONFIG="$ETC_DIR/config.xml"
PIDFILE="$CH_DIR/clickhouse-server.pid"
STDOUT_LOG="$CH_DIR/log/stdout.log"
SERVER_LOG="$CH_DIR/log/clickhouse-server.log"
ERR_LOG="$CH_DIR/log/clickhouse-server.err.log"
TLS_DIR="$CH_DIR/tls"
GRAFANA_PASSWORD_FILE="$CH_DIR/grafana.password"

# Answers a query on the native port? (Quiet; used by start and status.)
answering() {
  clickhouse-client --host 127.0.0.1 --port "$TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1
}

# Completes a TLS handshake on the secure port and trusts the certificate
# with our CA? (openssl s_client: the server only notes a client that sent
# no query; a bare TCP probe would make it log an SSL error with a stack.)
tls_answering() {
  openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$TLS_DIR/ca.pem" \
    -verify_return_error -verify_ip 127.0.0.1 -brief </dev/null >/dev/null 2>&1
}

server_version() {
  clickhouse-client --host 127.0.0.1 --port "$TCP_PORT" -q 'SELECT version()' 2>/dev/null
}

cmd_install() {
  if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
    return 0
  fi
  # The package's postinst runs `invoke-rc.d clickhouse-server start`, which
  # would start a second server (as user clickhouse, /etc config, port 9000)
  # or fail the install where init scripts are denied. A policy-rc.d that
  # answers 101 ("action forbidden") makes invoke-rc.d skip it; container
  # images usually have one already, otherwise we add one just for this install.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0
  apt_install clickhouse-server clickhouse-client || rc=$?
  if ((added_policy)); then as_root rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install clickhouse-server clickhouse-client failed"
  command -v clickhouse-server >/dev/null 2>&1 || die "clickhouse-server still not on PATH after apt-get install"
}

# Make, once, a CA (ca.pem, ca.key) and a server certificate it signs
# (server.pem, server.key) for 127.0.0.1 and localhost in $TLS_DIR (see
# make_server_tls in lib.sh). Delete $TLS_DIR to make new ones.
generate_tls() {
  make_server_tls "$TLS_DIR" "spacepulse local test CA"
}

# Make, once, the password of spacepulse_grafana: 24 random bytes, base64url,
# in $GRAFANA_PASSWORD_FILE (0600). Kept across restarts, like the CA; delete
# the file and run start to get a new one.
generate_grafana_password() {
  make_secret "$GRAFANA_PASSWORD_FILE" spacepulse_grafana
}

# Write $ETC_DIR/users.xml from deployments/local/clickhouse/users.xml with
# the password hash filled in (atomically: a running server reloads it).
generate_users() {
  generate_grafana_password
  local sha
  sha=$(tr -d '\n' <"$GRAFANA_PASSWORD_FILE" | sha256sum | cut -d' ' -f1)
  local sed_args=(-e "s|@GRAFANA_PASSWORD_SHA256@|$sha|g")
  if ! legacy_server; then
    # Newer servers reject this 18.x-only setting as unknown.
    sed_args+=(-e '/allow_experimental_low_cardinality_type/d')
  fi
  mkdir -p "$ETC_DIR"
  rm -rf "$ETC_DIR/users.d"
  if [[ -n $USERS_D_SRC ]]; then
    compgen -G "$USERS_D_SRC/*.xml" >/dev/null || die "SPACEPULSE_CLICKHOUSE_USERS_D=$USERS_D_SRC holds no *.xml"
    mkdir -p "$ETC_DIR/users.d"
    cp "$USERS_D_SRC"/*.xml "$ETC_DIR/users.d/"
  fi
  sed "${sed_args[@]}" "$LOCAL_DIR/clickhouse/users.xml" >"$ETC_DIR/users.xml.tmp"
  mv "$ETC_DIR/users.xml.tmp" "$ETC_DIR/users.xml"
}

# Write $CH_DIR/etc/{config,users}.xml from deployments/local/clickhouse/
# with ports and paths filled in. Regenerated on every start, so edits to
# the templates and port changes take effect at the next start.
generate_config() {
  mkdir -p "$ETC_DIR" "$CH_DIR"/{data,tmp,user_files,format_schemas,log}
  sed -e "s|@CH_DIR@|$CH_DIR|g" \
      -e "s|@TCP_PORT@|$TCP_PORT|g" \
      -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
      -e "s|@TLS_PORT@|$TLS_PORT|g" \
      -e "s|@TLS_DIR@|$TLS_DIR|g" \
      "$LOCAL_DIR/clickhouse/config.xml" >"$CONFIG.tmp"
  mv "$CONFIG.tmp" "$CONFIG"
  rm -rf "$ETC_DIR/config.d"
  if [[ -n $CONFIG_D_SRC ]]; then
    compgen -G "$CONFIG_D_SRC/*.xml" >/dev/null || die "SPACEPULSE_CLICKHOUSE_CONFIG_D=$CONFIG_D_SRC holds no *.xml"
    mkdir -p "$ETC_DIR/config.d"
    cp "$CONFIG_D_SRC"/*.xml "$ETC_DIR/config.d/"
  fi
  generate_users
}

# Logs in as spacepulse_grafana with its password?
grafana_user_answering() {
  clickhouse-client --host 127.0.0.1 --port "$TCP_PORT" --user spacepulse_grafana \
    --password "$(tr -d '\n' <"$GRAFANA_PASSWORD_FILE")" -q 'SELECT 1' >/dev/null 2>&1
}

# A server of ours that is already running gets the current users.xml (the
# server reloads it by itself, every few seconds); wait until the Grafana
# user can log in. A server from another run dir is left alone.
refresh_users() {
  pid_alive "$PIDFILE" "$CONFIG" || return 0
  generate_users
  local deadline=$((SECONDS + 20))
  until grafana_user_answering; do
    if ((SECONDS >= deadline)); then
      log "WARNING: spacepulse_grafana cannot log in 20 s after users.xml was rewritten: run $0 stop && $0 start"
      return 0
    fi
    sleep 0.5
  done
}

# True for the 18.x server (Debian's 18.16.1), which has no --version flag;
# current servers print "ClickHouse server version 2x.y...".
legacy_server() {
  local v
  v=$(clickhouse-server --version 2>/dev/null) || return 0
  [[ $v =~ version\ 18\. ]]
}

# A server started from an older config answers on the plain port only.
warn_no_tls() {
  tls_answering && return 0
  log "WARNING: no TLS with $TLS_DIR/ca.pem on 127.0.0.1:$TLS_PORT (started from an older config?): run $0 stop && $0 start"
}

cmd_start() {
  if answering; then
    log "already running on 127.0.0.1:$TCP_PORT (version $(server_version))"
    refresh_users
    warn_no_tls
    return 0
  fi
  if pid_alive "$PIDFILE" "$CONFIG"; then
    # Our server is up but not answering yet (e.g. a concurrent start).
    log "clickhouse-server (pid $(<"$PIDFILE")) is starting; waiting"
  else
    command -v clickhouse-server >/dev/null 2>&1 || cmd_install
    if port_open "$TCP_PORT"; then
      die "port 127.0.0.1:$TCP_PORT is taken by something that is not ClickHouse answering SELECT 1"
    fi
    if port_open "$TLS_PORT"; then
      die "TLS port 127.0.0.1:$TLS_PORT is taken (set SPACEPULSE_CLICKHOUSE_TLS_PORT to a free one)"
    fi
    generate_tls
    generate_config
    log "starting clickhouse-server on 127.0.0.1:$TCP_PORT (tls $TLS_PORT, http $HTTP_PORT), data in $CH_DIR"
    # Runs as the invoking user (root in CI): 18.16 has no objection to root,
    # and the data dir is ours, so no chown / user switch is needed.
    spawn "$PIDFILE" "$STDOUT_LOG" clickhouse-server --config-file="$CONFIG"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  until answering; do
    if ! pid_alive "$PIDFILE" "$CONFIG"; then
      show_tail "$STDOUT_LOG" "$ERR_LOG" "$SERVER_LOG"
      die "clickhouse-server exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_tail "$STDOUT_LOG" "$ERR_LOG" "$SERVER_LOG"
      die "clickhouse-server did not answer on 127.0.0.1:$TCP_PORT within ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
  # The secure port opens before the plain one answers; check it serves our certificate.
  if ! tls_answering; then
    show_errors 'SSL|TLS|[Cc]ertificate|tcp_port_secure' "$ERR_LOG"
    die "clickhouse-server answers on $TCP_PORT but gives no TLS handshake with $TLS_DIR/ca.pem on $TLS_PORT"
  fi
  grafana_user_answering || die "clickhouse-server answers, but spacepulse_grafana cannot log in with $GRAFANA_PASSWORD_FILE (see $ERR_LOG)"
  log "up: 127.0.0.1:$TCP_PORT, TLS 127.0.0.1:$TLS_PORT (CA $TLS_DIR/ca.pem) (pid $(<"$PIDFILE"), version $(server_version))"
}

cmd_stop() {
  stop_pid clickhouse-server "$PIDFILE" "$CONFIG" 60
}

cmd_status() {
  if answering; then
    log "running on 127.0.0.1:$TCP_PORT (version $(server_version))"
    warn_no_tls
    return 0
  fi
  log "not answering on 127.0.0.1:$TCP_PORT"
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
