#!/usr/bin/env bash
# Stop the local Kafka and ClickHouse started by up.sh (data is kept; see
# README.md for how to wipe it). Stops both even if one of them fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

rc=0
"$HERE/kafka.sh" stop || rc=1
"$HERE/clickhouse.sh" stop || rc=1
exit "$rc"
