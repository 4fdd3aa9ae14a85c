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
	addr := Config("system").Addr
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		return
	}
	if gate == "1" {
		t.Fatalf("%s=1 but ClickHouse at %s does not answer: %v", EnvGate, addr, err)
	}
	t.Skipf("ClickHouse at %s does not answer (%v); set %s=1 to require it", addr, err, EnvGate)
}

// NewDatabase creates a fresh database spacepulse_test_<random> migrated to
// warehouse.LatestVersion, dropped when t ends, and returns a connection bound to it (closed when
// t ends) and its Config.
func NewDatabase(t testing.TB) (driver.Conn, warehouse.Config) {
	t.Helper()
	NeedServer(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random: %v", err)
	}
	cfg := Config("spacepulse_test_" + hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := warehouse.Setup(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("set up database %s: %v", cfg.Database, err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		drop(t, cfg)
	})
	return conn, cfg
}

func drop(t testing.TB, cfg warehouse.Config) {
	t.Helper()
	db := cfg.Database
	cfg.Database = "system"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := warehouse.Open(ctx, cfg, nil)
	if err != nil {
		t.Errorf("open to drop %s: %v", db, err)
		return
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Errorf("drop %s: %v", db, err)
	}
}
