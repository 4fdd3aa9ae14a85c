#!/usr/bin/env bash
# Stop the local cluster started by cluster-up.sh (data is kept; rm -rf .run/cluster wipes it).
# Stops every node even if one of them fails.
#
#   deployments/local/cluster-down.sh                 # everything: Kafka, ClickHouse, ZooKeeper
#   deployments/local/cluster-down.sh clickhouse 3    # one node (SIGTERM), likewise kafka N, zookeeper
set -euo pipefail

# shellcheck source=cluster-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-lib.sh"

if (($# > 0)); then
  (($# == 2)) || [[ ${1:-} == zookeeper && $# == 1 ]] || { echo "usage: $0 [clickhouse N|kafka N|zookeeper]" >&2; exit 2; }
  node "$1" "${2:-0}" stop
  exit 0
fi

rc=0
run_all kafka stop "${KAFKA_NODES[@]}" || rc=1
run_all clickhouse stop "${CH_NODES[@]}" || rc=1
node zookeeper 0 stop || rc=1
exit "$rc"
