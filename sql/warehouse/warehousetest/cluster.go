package warehousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
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
	for _, addr := range cfg.Addrs() {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.Close()
			continue
		}
		if gate == "1" {
			t.Fatalf("%s=1 but the cluster's ClickHouse at %s does not answer (deployments/local/cluster-up.sh): %v", EnvClusterGate, addr, err)
		}
		t.Skipf("the cluster's ClickHouse at %s does not answer (%v); set %s=1 to require it", addr, err, EnvClusterGate)
	}
}

// NewClusterDatabase creates a fresh database spacepulse_test_<random> on the test cluster with
// warehouse.Setup (the cluster schema), dropped ON CLUSTER when t ends, and returns a connection
// bound to it (closed when t ends) and its Config.
func NewClusterDatabase(t testing.TB) (driver.Conn, warehouse.Config) {
	t.Helper()
	NeedCluster(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random: %v", err)
	}
	cfg := ClusterConfig("spacepulse_test_" + hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, _, err := warehouse.Setup(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("set up database %s on cluster %s: %v", cfg.Database, cfg.Cluster, err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		DropCluster(t, cfg)
	})
	return conn, cfg
}

// DropCluster drops cfg.Database on every server of cfg.Cluster.
func DropCluster(t testing.TB, cfg warehouse.Config) {
	t.Helper()
	db := cfg.Database
	cfg.Database = "system"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := warehouse.Open(ctx, cfg, nil)
	if err != nil {
		t.Errorf("open to drop %s: %v", db, err)
		return
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" ON CLUSTER "+cfg.Cluster); err != nil && !strings.Contains(err.Error(), "doesn't exist") {
		t.Errorf("drop %s on cluster %s: %v", db, cfg.Cluster, err)
	}
}
