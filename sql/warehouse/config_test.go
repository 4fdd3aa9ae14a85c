package warehouse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestValidate(t *testing.T) {
	f := func(mutate func(*warehouse.Config), wantErr string) {
		t.Helper()
		c := warehouse.NewConfig()
		mutate(&c)
		err := c.Validate()
		if wantErr == "" && err != nil {
			t.Fatalf("Validate: %v, want nil", err)
		}
		if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("Validate: %v, want an error containing %q", err, wantErr)
		}
	}
	f(func(c *warehouse.Config) {}, "")
	f(func(c *warehouse.Config) { c.Addr = "localhost:9440" }, "")
	f(func(c *warehouse.Config) { c.Addr = "[::1]:9000" }, "")
	f(func(c *warehouse.Config) { c.Addr = "x" }, `-clickhouse-addr "x": want host:port, or several comma-separated (SPACEPULSE_CLICKHOUSE_ADDR)`)
	f(func(c *warehouse.Config) { c.Addr = "a:9440,b:9440" }, "")
	f(func(c *warehouse.Config) { c.Addr = " , " }, "-clickhouse-addr is empty")
	f(func(c *warehouse.Config) { c.TLS.CAFile = "/no/such/ca.pem" }, "-clickhouse-tls-ca-file")
	f(func(c *warehouse.Config) { c.Addr = ":9000" }, "want host:port")
	f(func(c *warehouse.Config) { c.Addr = "h:0" }, "want a port 1-65535")
	f(func(c *warehouse.Config) { c.Addr = "h:http" }, "want a port 1-65535")
	f(func(c *warehouse.Config) { c.Database = "" }, "-clickhouse-database")
	f(func(c *warehouse.Config) { c.Database = "a-b" }, "-clickhouse-database")
	f(func(c *warehouse.Config) { c.Database = "x; DROP TABLE y" }, "-clickhouse-database")
	f(func(c *warehouse.Config) { c.Database = "1abc" }, "-clickhouse-database")
	f(func(c *warehouse.Config) { c.Database = "_ok_1" }, "")
	f(func(c *warehouse.Config) { c.User = "" }, "-clickhouse-user")
	f(func(c *warehouse.Config) { c.DialTimeout = 0 }, "-clickhouse-dial-timeout")
	f(func(c *warehouse.Config) { c.ReadTimeout = -time.Second }, "-clickhouse-read-timeout")
	f(func(c *warehouse.Config) { c.Compression = "gzip" }, "SPACEPULSE_CLICKHOUSE_COMPRESSION")
	f(func(c *warehouse.Config) { c.Compression = "none" }, "")
	f(func(c *warehouse.Config) { c.Compression = "auto" }, "")
	f(func(c *warehouse.Config) { c.Cluster = "spacepulse" }, "")
	f(func(c *warehouse.Config) { c.Cluster = "a b" }, "-cluster \"a b\": want the name of a cluster")
	f(func(c *warehouse.Config) { c.Cluster = "x'; DROP" }, "SPACEPULSE_CLUSTER")
}

// auto (the default) sends blocks uncompressed to a server on this machine and LZ4 to any
// other; an explicit choice is kept whatever the address.
func TestWireCompression(t *testing.T) {
	f := func(compression, addr, want string) {
		t.Helper()
		c := warehouse.NewConfig()
		if compression != "default" {
			c.Compression = compression
		}
		c.Addr = addr
		if got := c.WireCompression(); got != want {
			t.Fatalf("Compression %q, Addr %s: %s, want %s", compression, addr, got, want)
		}
	}
	f("default", "127.0.0.1:9000", "none")
	f("auto", "127.0.0.2:9000", "none")
	f("", "localhost:9000", "none")
	f("auto", "[::1]:9000", "none")
	f("auto", "clickhouse:9000", "lz4")
	f("auto", "10.0.0.5:9000", "lz4")
	f("auto", "[2001:db8::1]:9440", "lz4")
	f("lz4", "127.0.0.1:9000", "lz4")
	f("zstd", "127.0.0.1:9000", "zstd")
	f("none", "clickhouse:9000", "none")
	f("auto", "127.0.0.1:9000,127.0.0.1:9001", "none")
	f("auto", "127.0.0.1:9000,ch2:9000", "lz4")
}
