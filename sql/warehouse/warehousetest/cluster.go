package warehousetest

import (
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// The cluster tests use the loopback cluster of deployments/local/cluster-up.sh (make
// test-cluster starts it): its servers in SPACEPULSE_TEST_CLUSTER_ADDR (default
// 127.0.0.1:9201,…,9204), its name in SPACEPULSE_TEST_CLUSTER_NAME (default spacepulse), gated by
// SPACEPULSE_CLUSTER_INTEGRATION like SPACEPULSE_INTEGRATION (unset: run if the cluster answers,
// else skip; 0: skip; 1: must run). SPACEPULSE_INTEGRATION=0 skips them too unless the cluster
// gate is 1. The names are not flags of any binary, so they reach no consumer a test starts.
const (
	EnvClusterGate = "SPACEPULSE_CLUSTER_INTEGRATION"
	EnvClusterAddr = "SPACEPULSE_TEST_CLUSTER_ADDR"
	EnvClusterName = "SPACEPULSE_TEST_CLUSTER_NAME"
)

// ClusterConfig returns the Config of the test cluster for database db: every server, in order
// (failover), and Cluster set.
func ClusterConfig(db string) warehouse.Config {
	cfg := Config(db)
	cfg.Addr = os.Getenv(EnvClusterAddr)
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204"
	}
	cfg.Cluster = os.Getenv(EnvClusterName)
	if cfg.Cluster == "" {
		cfg.Cluster = "spacepulse"
	}
	cfg.User, cfg.Password = warehouse.DefaultUser, ""
	return cfg
}

// NeedCluster skips or fails t, per the cluster gate, when a server of the test cluster does
// not answer.
func NeedCluster(t testing.TB) {
	t.Helper()
	gate := os.Getenv(EnvClusterGate)
	if gate == "0" || gate == "" && os.Getenv(EnvGate) == "0" {
		t.Skip(EnvClusterGate + "=0 or " + EnvGate + "=0")
	}
	cfg := ClusterConfig("system")
	needAnswer(t, gate == "1", EnvClusterGate, "the cluster's ClickHouse (deployments/local/cluster-up.sh)", cfg.Addrs()...)
}

// NewClusterDatabase creates a fresh database spacepulse_test_<random> on the test cluster with
// warehouse.Setup (the cluster schema), dropped ON CLUSTER when t ends, and returns a connection
// bound to it (closed when t ends) and its Config.
func NewClusterDatabase(t testing.TB) (driver.Conn, warehouse.Config) {
	t.Helper()
	NeedCluster(t)
	return newDatabase(t, ClusterConfig, 3*time.Minute)
}
