#!/usr/bin/env bash
# Install (if missing) and start the local ClickHouse and Kafka, then print
# their addresses as KEY=VALUE lines on stdout (progress goes to stderr), e.g.
#   eval "$(deployments/local/up.sh)"
# Tools (kcat, protoc, chdb) are separate: deployments/local/tools.sh install.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/clickhouse.sh" install
"$HERE/kafka.sh" install
"$HERE/clickhouse.sh" start
"$HERE/kafka.sh" start

echo "SPACEPULSE_CLICKHOUSE_ADDR=127.0.0.1:${SPACEPULSE_CLICKHOUSE_PORT:-9000}"
echo "SPACEPULSE_CLICKHOUSE_TLS_ADDR=127.0.0.1:${SPACEPULSE_CLICKHOUSE_TLS_PORT:-9440}"
run_dir="${SPACEPULSE_RUN_DIR:-$HERE/../../.run}"
echo "SPACEPULSE_CLICKHOUSE_TLS_CA=$(cd "$run_dir" && pwd)/clickhouse/tls/ca.pem"
echo "SPACEPULSE_CLICKHOUSE_GRAFANA_PASSWORD_FILE=$(cd "$run_dir" && pwd)/clickhouse/grafana.password"
echo "SPACEPULSE_KAFKA_BROKERS=127.0.0.1:${SPACEPULSE_KAFKA_PORT:-9092}"
echo "SPACEPULSE_TEST_KAFKA_SASL_BROKERS=127.0.0.1:${SPACEPULSE_KAFKA_SASL_PORT:-9094}"
echo "SPACEPULSE_TEST_KAFKA_CA=$(cd "$run_dir" && pwd)/kafka/tls/ca.pem"
echo "SPACEPULSE_TEST_KAFKA_OTHER_CA=$(cd "$run_dir" && pwd)/kafka/tls/other-ca.pem"
echo "SPACEPULSE_TEST_KAFKA_SASL_USER=spacepulse"
echo "SPACEPULSE_TEST_KAFKA_SASL_PASSWORD_FILE=$(cd "$run_dir" && pwd)/kafka/sasl.password"
