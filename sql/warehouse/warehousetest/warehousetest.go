// Package warehousetest gives tests a real ClickHouse database of their own: the server named by
// SPACEPULSE_CLICKHOUSE_ADDR (default 127.0.0.1:9000), gated by SPACEPULSE_INTEGRATION (unset:
// use it if it answers, else skip; 0: skip; 1: must run, fail if it does not answer).
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

// EnvGate is the environment variable of the gate.
const EnvGate = "SPACEPULSE_INTEGRATION"

// Config returns the Config of the test server (the SPACEPULSE_CLICKHOUSE_* variables or the
// defaults) for database db, with short timeouts.
func Config(db string) warehouse.Config {
	cfg := warehouse.NewConfig()
	if addr := os.Getenv(warehouse.EnvAddr); addr != "" {
		cfg.Addr = addr
	}
	if u := os.Getenv(warehouse.EnvUser); u != "" {
		cfg.User = u
	}
	cfg.Password = os.Getenv(warehouse.EnvPassword)
	cfg.Database = db
	cfg.DialTimeout = 3 * time.Second
	cfg.ReadTimeout = time.Minute
	return cfg
}

// NeedServer skips or fails t, per the gate, when the test server does not answer.
func NeedServer(t testing.TB) {
	t.Helper()
	gate := os.Getenv(EnvGate)
	if gate == "0" {
		t.Skip(EnvGate + "=0")
	}
	needAnswer(t, gate == "1", EnvGate, "ClickHouse", Config("system").Addr)
}

// needAnswer fails t (required) or skips it when one of addrs takes no TCP connection; what
// names the servers and gate the variable that requires them.
func needAnswer(t testing.TB, required bool, gate, what string, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.Close()
			continue
		}
		if required {
			t.Fatalf("%s=1 but %s at %s does not answer: %v", gate, what, addr, err)
		}
		t.Skipf("%s at %s does not answer (%v); set %s=1 to require it", what, addr, err, gate)
	}
}

// NewDatabase creates a fresh database spacepulse_test_<random> migrated to
// warehouse.LatestVersion, dropped when t ends, and returns a connection bound to it (closed when
// t ends) and its Config.
func NewDatabase(t testing.TB) (driver.Conn, warehouse.Config) {
	t.Helper()
	NeedServer(t)
	return newDatabase(t, Config, time.Minute)
}

// newDatabase sets up a database spacepulse_test_<random> with config (warehouse.Setup, the
// cluster schema when the Config names a cluster) and drops it when t ends.
func newDatabase(t testing.TB, config func(database string) warehouse.Config, timeout time.Duration) (driver.Conn, warehouse.Config) {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random: %v", err)
	}
	cfg := config("spacepulse_test_" + hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, _, err := warehouse.Setup(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("set up database %s (cluster %q): %v", cfg.Database, cfg.Cluster, err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		drop(t, cfg)
	})
	return conn, cfg
}

// drop drops cfg.Database, on every server of cfg.Cluster when it names one.
func drop(t testing.TB, cfg warehouse.Config) {
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
	stmt := "DROP DATABASE IF EXISTS " + db
	if cfg.Cluster != "" {
		stmt += " ON CLUSTER " + cfg.Cluster
	}
	if err := admin.Exec(ctx, stmt); err != nil && !strings.Contains(err.Error(), "doesn't exist") {
		t.Errorf("%s: %v", stmt, err)
	}
}
