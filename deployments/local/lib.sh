# shellcheck shell=bash
# Shared helpers for the deployments/local/*.sh scripts. Source it, don't run it.
#
# Everything a script creates at run time (data, logs, pid files, generated
# configs, downloaded jars) lives under RUN_DIR:
#   ${SPACEPULSE_RUN_DIR:-<repo root>/.run}

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
RUN_DIR="${SPACEPULSE_RUN_DIR:-$REPO_ROOT/.run}"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"   # absolute, servers need absolute paths

# Prefix every message with the script name so interleaved output stays readable.
log() { printf '[%s] %s\n' "${LOG_TAG:-local}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run as root directly, otherwise through sudo if it is there (for apt-get).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# apt-get update at most once per script run (and skipped entirely when
# nothing has to be installed).
_APT_UPDATED=0
apt_install() {
  if [[ $_APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq >/dev/null
    _APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pid_alive PIDFILE PATTERN: true if the pid file names a live process whose
# command line contains PATTERN (guards against a stale file and a reused pid).
pid_alive() {
  local pidfile=$1 pattern=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# spawn PIDFILE LOGFILE CMD...: start CMD detached from this shell (own
# session, no stdin, output appended to LOGFILE) and record its pid. The
# small bash wrapper writes its own pid and then execs CMD, so the pid file
# always names the server process itself.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    >>"$logfile" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
  die "process did not start: $*"
}

# stop_pid NAME PIDFILE PATTERN [TIMEOUT]: SIGTERM the process from the pid
# file, wait for it to exit, SIGKILL after TIMEOUT seconds.
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 timeout=${4:-30} pid i
  if ! pid_alive "$pidfile" "$pattern"; then
    log "$name is not running (no live pid in $pidfile)"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(<"$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "$name stopped"; return 0; }
    sleep 0.1
  done
  log "$name did not exit after ${timeout}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
  rm -f "$pidfile"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# show_tail FILE...: print the last lines of log files (for failures).
show_tail() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    echo "----- tail -n 40 $f -----" >&2
    tail -n 40 "$f" >&2
  done
}

# show_errors PATTERN FILE...: print the last lines matching PATTERN (for
# failures whose cause scrolled out of the tail).
show_errors() {
  local pattern=$1; shift
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    if grep -qE -- "$pattern" "$f"; then
      echo "----- errors in $f -----" >&2
      grep -E -- "$pattern" "$f" | tail -n 15 | cut -c1-400 >&2
    fi
  done
}

# make_secret FILE WHAT: make, once, a random password in FILE (mode 600):
# 24 random bytes, base64url, 32 characters of [A-Za-z0-9_-] (safe inside
# quotes of a JAAS line, an XML file or a Kafka config value). Kept across
# restarts; delete FILE and start again for a new one.
make_secret() {
  local file=$1 what=$2
  [[ -s $file ]] && return 0
  mkdir -p "$(dirname "$file")"
  log "making the password of $what in $file"
  (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$file.tmp")
  mv "$file.tmp" "$file"
}

# make_server_tls DIR CA_CN [OTHER_CA_CN]: make, once, in DIR a test CA
# (ca.pem, ca.key; subject CN=CA_CN) and a server certificate it signs
# (server.pem, server.key) for 127.0.0.1 and localhost (SAN IP:127.0.0.1,
# DNS:localhost). With OTHER_CA_CN, also other-ca.pem: a second CA that
# signed nothing (its key is thrown away), for tests that must see a client
# refuse the server's certificate. Kept across restarts so clients can keep
# trusting ca.pem; delete DIR to make new ones. The keys are unencrypted
# PKCS#8 ("BEGIN PRIVATE KEY", what openssl req writes), mode 600; the
# certificates are 644. RSA 2048 and SHA-256: what ClickHouse 18.16's
# Poco/OpenSSL, Java and Go's crypto/tls all accept; 10 years, so tests never
# meet an expired one. DIR is replaced as a whole, never left half made.
make_server_tls() {
  local dir=$1 ca_cn=$2 other_cn=${3:-}
  if [[ -s $dir/ca.pem && -s $dir/server.pem && -s $dir/server.key ]] &&
     [[ -z $other_cn || -s $dir/other-ca.pem ]]; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  log "making a test CA and a server certificate for 127.0.0.1/localhost in $dir"
  local tmp
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.XXXXXX")
  chmod 755 "$tmp"   # the certificates for anyone; the keys stay 600
  (
    cd "$tmp"
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.pem -subj "/CN=$ca_cn" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey rsa:2048 -nodes -sha256 \
      -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -sha256 -days 3650 -extfile server.ext -out server.pem
    rm -f server.csr server.ext ca.srl
    if [[ -n $other_cn ]]; then
      openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout other-ca.key -out other-ca.pem -subj "/CN=$other_cn" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
      rm -f other-ca.key
    fi
    chmod 644 ./*.pem
  ) >"$tmp/openssl.log" 2>&1 || { show_tail "$tmp/openssl.log"; rm -rf "$tmp"; die "openssl could not make the test certificates in $dir"; }
  rm -f "$tmp/openssl.log"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}
