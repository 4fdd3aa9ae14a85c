#!/usr/bin/env bash
# Local Apache Kafka for spacepulse tests: one combined broker+controller node
# in KRaft mode, run from Maven Central jars on the machine's Java, loopback only.
#
#   deployments/local/kafka.sh install   # mvn copies the broker jars to $RUN/kafka/lib
#   deployments/local/kafka.sh start     # idempotent; formats storage once, waits until ready
#   deployments/local/kafka.sh stop
#   deployments/local/kafka.sh status    # exit 0 if the broker answers
#
# Env: SPACEPULSE_RUN_DIR (default <repo>/.run), SPACEPULSE_KAFKA_PORT (default
# 9092), SPACEPULSE_KAFKA_CONTROLLER_PORT (default 9093),
# SPACEPULSE_KAFKA_SASL_PORT (default 9094), SPACEPULSE_KAFKA_VERSION
# (default 4.4.0, falls back to 4.3.1), SPACEPULSE_KAFKA_HEAP (default "-Xms512m
# -Xmx1g"), SPACEPULSE_KAFKA_START_TIMEOUT (seconds, default 90).
#
# Hooks for a multi-broker cluster (cluster-up.sh; defaults: one node): SPACEPULSE_KAFKA_NODE_ID
# (default 1), SPACEPULSE_KAFKA_QUORUM_VOTERS (controller.quorum.voters, default this node
# alone), SPACEPULSE_KAFKA_CLUSTER_ID (the id every node is formatted with; default a random
# one), SPACEPULSE_KAFKA_REPLICATION_FACTOR and SPACEPULSE_KAFKA_MIN_ISR (of new and internal
# topics, default 1 and 1), SPACEPULSE_KAFKA_LIB_DIR (the jars, default $RUN/kafka/lib: nodes
# can share one).
#
# Two client listeners: PLAINTEXT on 127.0.0.1:$SPACEPULSE_KAFKA_PORT (no
# authentication) and SASL_SSL on 127.0.0.1:$SPACEPULSE_KAFKA_SASL_PORT
# (TLS with a certificate signed by $RUN/kafka/tls/ca.pem; SASL PLAIN,
# SCRAM-SHA-256 and SCRAM-SHA-512, one user, spacepulse, whose password
# `start` makes once in $RUN/kafka/sasl.password). The broker and controller
# talk to each other in PLAINTEXT.
set -euo pipefail

LOG_TAG=kafka
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${SPACEPULSE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${SPACEPULSE_KAFKA_CONTROLLER_PORT:-9093}"
SASL_PORT="${SPACEPULSE_KAFKA_SASL_PORT:-9094}"
KAFKA_VERSION="${SPACEPULSE_KAFKA_VERSION:-4.4.0}"
FALLBACK_VERSION="4.3.1"
HEAP="${SPACEPULSE_KAFKA_HEAP:--Xms512m -Xmx1g}"
START_TIMEOUT="${SPACEPULSE_KAFKA_START_TIMEOUT:-90}"
NODE_ID="${SPACEPULSE_KAFKA_NODE_ID:-1}"
REPLICATION="${SPACEPULSE_KAFKA_REPLICATION_FACTOR:-1}"
MIN_ISR="${SPACEPULSE_KAFKA_MIN_ISR:-1}"

KAFKA_DIR="$RUN_DIR/kafka"
LIB_DIR="${SPACEPULSE_KAFKA_LIB_DIR:-$KAFKA_DIR/lib}"
DATA_DIR="$KAFKA_DIR/data"
LOG_DIR="$KAFKA_DIR/log"
PROPS="$KAFKA_DIR/server.properties"
LOG4J="$KAFKA_DIR/log4j2.xml"
PIDFILE="$KAFKA_DIR/kafka.pid"
QUORUM_VOTERS="${SPACEPULSE_KAFKA_QUORUM_VOTERS:-$NODE_ID@127.0.0.1:$CONTROLLER_PORT}"
STDOUT_LOG="$LOG_DIR/stdout.log"
SERVER_LOG="$LOG_DIR/server.log"
POM="$LOCAL_DIR/kafka/pom.xml"
BROKER="127.0.0.1:$PORT"
SASL_BROKER="127.0.0.1:$SASL_PORT"
TLS_DIR="$KAFKA_DIR/tls"
SASL_USER=spacepulse
SASL_PASSWORD_FILE="$KAFKA_DIR/sasl.password"
KCAT_CONF="$KAFKA_DIR/kcat.conf"
# Says which cluster (by id) has the SCRAM credentials of which password (by
# SHA-256), so a restart runs no tool to add them again.
SCRAM_MARKER="$KAFKA_DIR/scram.users"

# ---------------------------------------------------------------- install

# The lib dir is complete when its marker names the same pom (by checksum)
# and the same requested version; the marker is written last, so an
# interrupted copy is redone.
lib_complete() {
  [[ -f $LIB_DIR/.complete ]] &&
    grep -qx "pom=$(sha256sum "$POM" | cut -d' ' -f1)" "$LIB_DIR/.complete" &&
    grep -qx "requested=$KAFKA_VERSION" "$LIB_DIR/.complete" &&
    compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null
}

# copy_jars VERSION: resolve kafka_2.13:VERSION + logging into a fresh lib dir.
copy_jars() {
  local version=$1 tmp="$LIB_DIR.tmp"
  rm -rf "$tmp"
  mkdir -p "$LOG_DIR"
  log "resolving org.apache.kafka:kafka_2.13:$version with Maven (cached in ~/.m2)"
  if ! mvn -q -B -f "$POM" -Dkafka.version="$version" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$LOG_DIR/mvn.log" 2>&1; then
    log "Maven could not resolve Kafka $version (see $LOG_DIR/mvn.log)"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  {
    echo "pom=$(sha256sum "$POM" | cut -d' ' -f1)"
    echo "requested=$KAFKA_VERSION"
    echo "kafka.version=$version"
  } >"$LIB_DIR/.complete"
  log "installed Kafka $version: $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $LIB_DIR"
}

cmd_install() {
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  if lib_complete; then
    return 0
  fi
  if pid_alive "$PIDFILE" "$PROPS"; then
    # Never swap the jars under a running broker.
    log "jars in $LIB_DIR are outdated, but Kafka is running; run '$0 stop' first to update them"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  copy_jars "$KAFKA_VERSION" ||
    { [[ $KAFKA_VERSION != "$FALLBACK_VERSION" ]] && copy_jars "$FALLBACK_VERSION"; } ||
    { show_tail "$LOG_DIR/mvn.log"; die "could not install the Kafka jars"; }
}

installed_version() {
  sed -n 's/^kafka.version=//p' "$LIB_DIR/.complete" 2>/dev/null
}

# ---------------------------------------------------------------- config

# pem_value FILE...: the files as one properties value, each line ending in
# the escape \n (java.util.Properties turns it back into a newline).
pem_value() {
  awk '{ printf "%s\\n", $0 }' "$@"
}

# The SASL_SSL listener's certificate (signed by ca.pem), the password of
# spacepulse, and a kcat config for that listener (0600: it holds the
# password): kcat -F $KCAT_CONF -b $SASL_BROKER -L. It says PLAIN: the
# librdkafka of Debian's kcat (2.0.2) fails every SCRAM login to Kafka 4.x
# ("invalid credentials"; fixed in librdkafka 2.6.1, edenhill/kcat#462),
# while the Java, franz-go and kafka-go clients log in with SCRAM.
generate_security() {
  make_server_tls "$TLS_DIR" "spacepulse local Kafka test CA" "spacepulse untrusted test CA"
  make_secret "$SASL_PASSWORD_FILE" "Kafka SASL user $SASL_USER"
  (
    umask 077
    printf '%s\n' \
      "# Generated by deployments/local/kafka.sh: kcat -F $KCAT_CONF -b $SASL_BROKER -L" \
      security.protocol=SASL_SSL \
      sasl.mechanisms=PLAIN \
      "sasl.username=$SASL_USER" \
      "sasl.password=$(sasl_password)" \
      "ssl.ca.location=$TLS_DIR/ca.pem" >"$KCAT_CONF.tmp"
  )
  mv "$KCAT_CONF.tmp" "$KCAT_CONF"
}

sasl_password() {
  tr -d '\n' <"$SASL_PASSWORD_FILE"
}

# server.properties is 0600: it holds the listener's private key and the PLAIN
# password. The key and chain are inline PEM (ssl.keystore.key and
# ssl.keystore.certificate.chain): a PEM keystore file (ssl.keystore.location)
# needs ssl.key.password, so an encrypted key, while inline PEM takes the
# unencrypted PKCS#8 key as it is.
generate_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  cp "$LOCAL_DIR/kafka/log4j2.xml" "$LOG4J"
  local password
  password=$(sasl_password)
  (umask 077 && cat >"$PROPS.tmp") <<PROPS
# Generated by deployments/local/kafka.sh on every start; edit the script, not this file.
# A combined KRaft node (broker + controller) on loopback: alone, or one of a static quorum.
process.roles=broker,controller
node.id=$NODE_ID
# Static quorum (a single voter by default): stays valid if the controller port is changed later.
controller.quorum.voters=$QUORUM_VOTERS
listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SASL_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT

# SASL_SSL: TLS with a certificate for 127.0.0.1/localhost signed by
# $TLS_DIR/ca.pem, no client certificate; then SASL as user $SASL_USER with
# the password in $SASL_PASSWORD_FILE (SCRAM credentials live in the
# cluster metadata, added by kafka.sh). No authorizer: a logged-in user may do anything.
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.certificate.chain=$(pem_value "$TLS_DIR/server.pem")
listener.name.sasl_ssl.ssl.keystore.key=$(pem_value "$TLS_DIR/server.key")
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

log.dirs=$DATA_DIR

# Topics
num.partitions=8
auto.create.topics.enable=true
default.replication.factor=$REPLICATION
min.insync.replicas=$MIN_ISR
message.max.bytes=2097152
replica.fetch.max.bytes=2097152

# Internal topics (replication 1 on a single node)
offsets.topic.replication.factor=$REPLICATION
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$REPLICATION
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$REPLICATION
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0

# Small machine (2 cores), test data: few threads, bounded retention.
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
PROPS
  mv "$PROPS.tmp" "$PROPS"
}

# The JVM command line shared by the storage tool and the broker.
java_cmd() {
  local -a heap
  read -r -a heap <<<"$HEAP"
  JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$LOG4J"
    -cp "$LIB_DIR/*")
}

# The cluster id the storage was formatted with (empty before the format).
cluster_id() {
  sed -n 's/^cluster.id=//p' "$DATA_DIR/meta.properties" 2>/dev/null
}

# The marker line for this cluster and the current password.
scram_marker_line() {
  echo "cluster.id=$(cluster_id) password.sha256=$(sasl_password | sha256sum | cut -d' ' -f1)"
}

# scram_arg MECHANISM [NAME]: the storage tool's (with NAME) and
# ConfigCommand's (without) way to say "these SCRAM credentials", with their
# default iteration count.
scram_arg() {
  local mechanism=$1 name=${2:+name=$2,}
  echo "$mechanism=[${name}password=$(sasl_password)]"
}

# Format the log dir once, with a random cluster id (Kafka's Uuid format:
# 16 random bytes, URL-safe base64 without padding) and the SCRAM
# credentials of $SASL_USER in the bootstrap metadata, so a fresh node needs
# no tool run after start to let the user in.
format_storage() {
  [[ -f $DATA_DIR/meta.properties ]] && return 0
  local cluster_id
  cluster_id=${SPACEPULSE_KAFKA_CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')}
  log "formatting $DATA_DIR (cluster id $cluster_id) with SCRAM-SHA-256/512 credentials of $SASL_USER"
  java_cmd
  "${JAVA_CMD[@]}" kafka.tools.StorageTool format --config "$PROPS" --cluster-id "$cluster_id" \
    --add-scram "$(scram_arg SCRAM-SHA-256 "$SASL_USER")" \
    --add-scram "$(scram_arg SCRAM-SHA-512 "$SASL_USER")" \
    >>"$LOG_DIR/format.log" 2>&1 ||
    { show_tail "$LOG_DIR/format.log"; die "kafka.tools.StorageTool format failed"; }
  scram_marker_line >"$SCRAM_MARKER"
}

# A storage formatted without the credentials (by an older kafka.sh, or
# before the password was made anew) gets them from the running broker,
# through the PLAINTEXT listener, with Kafka's ConfigCommand (kafka-tools),
# once: the marker skips it on every later start. One run per mechanism: a
# KRaft broker refuses two credentials of one user in one request
# (DuplicateResourceException "A user credential cannot be altered twice in
# the same request"). It upserts, so running it again does no harm.
add_scram_users() {
  local want mechanism
  want=$(scram_marker_line)
  [[ -f $SCRAM_MARKER && $(<"$SCRAM_MARKER") == "$want" ]] && return 0
  log "adding SCRAM-SHA-256/512 credentials of $SASL_USER through $BROKER (storage formatted without them)"
  : >"$LOG_DIR/scram-users.log"
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    if ! java -Xms32m -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
          -Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$LOG_DIR/tools" \
          -cp "$LIB_DIR/*" org.apache.kafka.tools.ConfigCommand --bootstrap-server "$BROKER" \
          --alter --entity-type users --entity-name "$SASL_USER" \
          --add-config "$(scram_arg "$mechanism")" >>"$LOG_DIR/scram-users.log" 2>&1; then
      show_tail "$LOG_DIR/scram-users.log"
      die "could not add the $mechanism credentials of $SASL_USER (ConfigCommand, see $LOG_DIR/scram-users.log)"
    fi
  done
  echo "$want" >"$SCRAM_MARKER"
}

# ---------------------------------------------------------------- readiness

# Ready = the port accepts connections and the broker answers a metadata
# request (with kcat when it is installed; otherwise the log line the broker
# writes once it is serving).
answering() {
  port_open "$PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$BROKER" -L -m 5 2>/dev/null | grep -q "broker $NODE_ID at 127.0.0.1:$PORT"
  else
    [[ -f $SERVER_LOG ]] && grep -q 'Kafka Server started' "$SERVER_LOG"
  fi
}

# The SASL_SSL listener is ready when kcat logs in there as $SASL_USER
# (PLAIN, see generate_security), trusting only ca.pem, and gets metadata
# that advertises this listener's address; without kcat, when a TLS
# handshake verifies the certificate against ca.pem for 127.0.0.1 (no login
# then). The SCRAM credentials are there once the format or add_scram_users
# succeeded.
sasl_answering() {
  [[ -f $KCAT_CONF ]] && port_open "$SASL_PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -F "$KCAT_CONF" -b "$SASL_BROKER" -L -m 5 2>/dev/null |
      grep -q "broker $NODE_ID at 127.0.0.1:$SASL_PORT"
  else
    openssl s_client -connect "$SASL_BROKER" -CAfile "$TLS_DIR/ca.pem" \
      -verify_return_error -verify_ip 127.0.0.1 -brief </dev/null >/dev/null 2>&1
  fi
}

# A broker started by an older kafka.sh has no SASL_SSL listener.
warn_no_sasl() {
  sasl_answering && return 0
  log "WARNING: no SASL_SSL login as $SASL_USER on $SASL_BROKER (started from an older config?): run $0 stop && $0 start"
}

cmd_start() {
  if answering; then
    log "already running on $BROKER"
    warn_no_sasl
    return 0
  fi
  if pid_alive "$PIDFILE" "$PROPS"; then
    log "Kafka (pid $(<"$PIDFILE")) is starting; waiting"
  else
    cmd_install
    if port_open "$PORT"; then
      die "port $BROKER is taken by something that is not a Kafka broker answering metadata"
    fi
    if port_open "$CONTROLLER_PORT"; then
      die "controller port 127.0.0.1:$CONTROLLER_PORT is already taken (set SPACEPULSE_KAFKA_CONTROLLER_PORT)"
    fi
    if port_open "$SASL_PORT"; then
      die "SASL_SSL port $SASL_BROKER is already taken (set SPACEPULSE_KAFKA_SASL_PORT)"
    fi
    generate_security
    generate_config
    format_storage
    # A fresh server.log per start keeps the readiness grep honest.
    [[ -f $SERVER_LOG ]] && mv -f "$SERVER_LOG" "$SERVER_LOG.prev"
    log "starting Kafka $(installed_version) on $BROKER (SASL_SSL $SASL_BROKER, controller 127.0.0.1:$CONTROLLER_PORT), data in $DATA_DIR"
    java_cmd
    spawn "$PIDFILE" "$STDOUT_LOG" "${JAVA_CMD[@]}" kafka.Kafka "$PROPS"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  wait_until answering "$BROKER" "$deadline"
  add_scram_users
  wait_until sasl_answering "$SASL_BROKER (SASL_SSL as $SASL_USER)" "$deadline"
  log "up: $BROKER, SASL_SSL $SASL_BROKER (CA $TLS_DIR/ca.pem, user $SASL_USER) (pid $(<"$PIDFILE"), Kafka $(installed_version))"
}

# wait_until CHECK WHAT DEADLINE: poll CHECK until it passes; fail with the
# logs if the broker exits or DEADLINE (in $SECONDS) passes.
wait_until() {
  local check=$1 what=$2 deadline=$3
  until "$check"; do
    if ! pid_alive "$PIDFILE" "$PROPS"; then
      show_tail "$STDOUT_LOG" "$SERVER_LOG"
      show_errors '\] (ERROR|FATAL) ' "$SERVER_LOG" "$LOG_DIR/controller.log"
      die "Kafka exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_tail "$STDOUT_LOG" "$SERVER_LOG"
      show_errors '\] (ERROR|FATAL) ' "$SERVER_LOG" "$LOG_DIR/controller.log"
      die "Kafka did not answer on $what within ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
}

cmd_stop() {
  # Controlled shutdown of a single node is quick; allow a minute anyway.
  stop_pid kafka "$PIDFILE" "$PROPS" 60
}

cmd_status() {
  if answering; then
    log "running on $BROKER"
    warn_no_sasl
    return 0
  fi
  log "not answering on $BROKER"
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
