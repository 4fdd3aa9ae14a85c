# spacepulse — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
LOCAL := deployments/local
# Addresses of the local servers started by $(LOCAL)/up.sh.
export SPACEPULSE_CLICKHOUSE_ADDR ?= 127.0.0.1:9000
# Its secure native port and the CA that signed its certificate (made by clickhouse.sh start).
export SPACEPULSE_CLICKHOUSE_TLS_ADDR ?= 127.0.0.1:9440
export SPACEPULSE_CLICKHOUSE_TLS_CA   ?= $(abspath $(or $(SPACEPULSE_RUN_DIR),.run))/clickhouse/tls/ca.pem
# The password of its read-only Grafana user, spacepulse_grafana (made by clickhouse.sh start).
export SPACEPULSE_CLICKHOUSE_GRAFANA_PASSWORD_FILE ?= $(abspath $(or $(SPACEPULSE_RUN_DIR),.run))/clickhouse/grafana.password
export SPACEPULSE_KAFKA_BROKERS   ?= 127.0.0.1:9092
# Its SASL_SSL listener, for the TLS/SASL tests only (names no binary reads): the CA that
# signed its certificate, a CA that did not, and the user and password file of PLAIN,
# SCRAM-SHA-256 and SCRAM-SHA-512 (all made by kafka.sh start).
export SPACEPULSE_TEST_KAFKA_SASL_BROKERS       ?= 127.0.0.1:9094
export SPACEPULSE_TEST_KAFKA_CA                 ?= $(abspath $(or $(SPACEPULSE_RUN_DIR),.run))/kafka/tls/ca.pem
export SPACEPULSE_TEST_KAFKA_OTHER_CA           ?= $(abspath $(or $(SPACEPULSE_RUN_DIR),.run))/kafka/tls/other-ca.pem
export SPACEPULSE_TEST_KAFKA_SASL_USER          ?= spacepulse
export SPACEPULSE_TEST_KAFKA_SASL_PASSWORD_FILE ?= $(abspath $(or $(SPACEPULSE_RUN_DIR),.run))/kafka/sasl.password

.PHONY: demo test test-unit test-cluster cluster-bench chaos chaos-short bench build grafana generate up down servers tools clean

## demo: the whole pipeline on this machine: ClickHouse (installed if missing),
## an embedded Kafka broker, the consumer and a synthetic load, then the report.
demo:
	$(LOCAL)/clickhouse.sh install
	$(LOCAL)/clickhouse.sh start
	$(GO) run ./deployments/cmd/spacepulse-demo

## test: start real ClickHouse and real Kafka and run every test, integration
## tests included (SPACEPULSE_INTEGRATION=1: they fail rather than skip): Go
## (the Grafana plugin's backend through its binary too), the SQL through chdb,
## and the plugin's front end (npm ci, typecheck, unit, headless Chromium).
test: tools servers
	SPACEPULSE_INTEGRATION=1 $(GO) test -count=1 -timeout 30m ./...
	python3 -m pytest -q sql/tests
	$(MAKE) -C grafana test

## test-unit: the tests that need no server.
test-unit:
	SPACEPULSE_INTEGRATION=0 $(GO) test -count=1 ./...

## test-cluster: start the loopback cluster ($(LOCAL)/cluster-up.sh: ZooKeeper, ClickHouse 2 shards x
## 2 replicas, 3 KRaft brokers, in .run/cluster), run the cluster tests (they fail rather than skip),
## then replay a night through it with 3 consumers while a ClickHouse replica, a broker and two
## consumers are SIGKILLed (spacepulse-chaos -profile cluster), and stop the cluster, pass or fail.
test-cluster: tools
	@trap '$(LOCAL)/cluster-down.sh >/dev/null 2>&1' EXIT; \
	$(LOCAL)/cluster-up.sh >/dev/null && \
	SPACEPULSE_CLUSTER_INTEGRATION=1 $(GO) test -count=1 -timeout 10m -run Cluster ./sql/warehouse/ ./sql/cmd/spacepulse-migrate/ ./consumers/ingest/ && \
	$(GO) run ./deployments/cmd/spacepulse-chaos -profile cluster $(if $(SEED),-seed $(SEED))

## cluster-bench: events/s of 3 consumers on the loopback cluster: 2.7M events of the night put in
## Kafka first, then consumed; no fault (about 3 minutes).
cluster-bench:
	$(GO) run ./deployments/cmd/spacepulse-chaos -profile cluster-bench $(if $(SEED),-seed $(SEED))

## chaos: replay a night through a Kafka and a ClickHouse of its own (.run/chaos, ports 9170 and
## 19170; never the shared ones) while consumers are SIGKILLed, ClickHouse stops for 60 s, the
## broker restarts and the group scales 1 -> 3 -> 1; then prints "lost N, double-counted N,
## wrong seconds N" and fails unless all are 0 (about 7 minutes). SEED=n replays a fault plan.
chaos:
	$(GO) run ./deployments/cmd/spacepulse-chaos -profile full $(if $(SEED),-seed $(SEED))

## chaos-short: the same with 100 s of load and 2 kills (under 3 minutes; CI runs it).
chaos-short:
	$(GO) run ./deployments/cmd/spacepulse-chaos -profile short $(if $(SEED),-seed $(SEED))

## bench: 5M events Kafka (embedded) -> ClickHouse, plus the Go micro-benchmarks.
bench:
	$(LOCAL)/clickhouse.sh install
	$(LOCAL)/clickhouse.sh start
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200000x ./schemas/
	$(GO) test -run '^$$' -bench . -benchmem ./consumers/...
	$(GO) run ./deployments/cmd/spacepulse-bench

build:
	$(GO) build -o bin/ ./producers/cmd/... ./consumers/cmd/... ./sql/cmd/... ./deployments/cmd/...

## grafana: the datasource plugin: grafana/dist and the zip Grafana installs.
grafana:
	$(MAKE) -C grafana build

## generate: regenerate schemas/pb/event.pb.go from schemas/pb/event.proto.
generate: tools
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --go_out=. --go_opt=paths=source_relative schemas/pb/event.proto

tools:
	$(LOCAL)/tools.sh install

servers:
	$(LOCAL)/up.sh

up: servers

down:
	$(LOCAL)/down.sh

clean: down
	rm -rf .run bin
