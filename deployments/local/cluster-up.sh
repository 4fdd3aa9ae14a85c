#!/usr/bin/env bash
# Install (if missing) and start the local cluster on loopback, then print its addresses as
# KEY=VALUE lines on stdout (progress goes to stderr), e.g.
#   eval "$(deployments/local/cluster-up.sh)"
#
#   ZooKeeper 127.0.0.1:12181; ClickHouse 18.16 as 2 shards x 2 replicas (127.0.0.1:9201-9204,
#   cluster "spacepulse" in remote_servers, macros {shard} and {replica}); Apache Kafka as 3
#   KRaft brokers (127.0.0.1:19201-19203, replication factor 3, min ISR 2). Run dir .run/cluster.
#
#   deployments/local/cluster-up.sh                  # everything (idempotent)
#   deployments/local/cluster-up.sh clickhouse 3     # one node again (after a kill), likewise kafka N, zookeeper
#
# Nodes, ports and environment: cluster-lib.sh. Stop it with cluster-down.sh.
set -euo pipefail

# shellcheck source=cluster-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-lib.sh"

if (($# > 0)); then
  (($# == 2)) || [[ ${1:-} == zookeeper && $# == 1 ]] || { echo "usage: $0 [clickhouse N|kafka N|zookeeper]" >&2; exit 2; }
  node "$1" "${2:-0}" start
  exit 0
fi

node zookeeper 0 install
node clickhouse 1 install
node kafka 1 install   # the jars once, into the shared lib dir, before three brokers start
node zookeeper 0 start
# The four servers and the three brokers start at once: each waits for its own readiness, and a
# KRaft quorum of three answers only once two of its controllers are up.
rc=0
run_all clickhouse start "${CH_NODES[@]}" || rc=1
run_all kafka start "${KAFKA_NODES[@]}" || rc=1
((rc == 0)) || die "the cluster did not start (logs under $CLUSTER_DIR)"

# Every server sees the whole cluster (remote_servers) and ZooKeeper.
for i in "${CH_NODES[@]}"; do
  n=$(clickhouse-client --host 127.0.0.1 --port "$(ch_port "$i")" -q \
    "SELECT count() FROM system.clusters WHERE cluster = '$CLUSTER_NAME'")
  [[ $n == "${#CH_NODES[@]}" ]] || die "ClickHouse node $i sees $n servers in cluster $CLUSTER_NAME, want ${#CH_NODES[@]}"
  clickhouse-client --host 127.0.0.1 --port "$(ch_port "$i")" -q \
    "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null ||
    die "ClickHouse node $i cannot read ZooKeeper 127.0.0.1:$ZK_PORT"
done
log "up: ZooKeeper 127.0.0.1:$ZK_PORT, ClickHouse cluster $CLUSTER_NAME $(ch_addrs), Kafka $(kafka_brokers)"

echo "SPACEPULSE_CLICKHOUSE_ADDR=$(ch_addrs)"
echo "SPACEPULSE_CLUSTER=$CLUSTER_NAME"
echo "SPACEPULSE_KAFKA_BROKERS=$(kafka_brokers)"
echo "SPACEPULSE_ZOOKEEPER=127.0.0.1:$ZK_PORT"
echo "SPACEPULSE_CLUSTER_RUN_DIR=$CLUSTER_DIR"
