package warehouse_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// Open reaches the real server's TLS port as a user with a password, fails over from an address
// that does not answer, and turns the settings the server refuses (an untrusted certificate,
// a wrong password, TLS to the plain port) into endpoint.ErrRefused errors naming the flag.
func TestOpenTLSAndCredentials(t *testing.T) {
	tlsAddr, caFile := warehousetest.TLSServer(t)
	pw, err := os.ReadFile(warehousetest.GrafanaPasswordFile(t))
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on, for the failover.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	base := warehousetest.Config("system")
	base.Addr = tlsAddr
	base.User, base.Password = warehousetest.GrafanaUser, strings.TrimSpace(string(pw))
	base.TLS = endpoint.TLS{CAFile: caFile}

	// f opens cfg and requires either a working connection (want "") or an error mentioning
	// want, refused (an ErrRefused error) or not.
	f := func(name string, mutate func(c *warehouse.Config), want string, refused bool) {
		t.Helper()
		cfg := base
		mutate(&cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := warehouse.Open(ctx, cfg, nil)
		if want == "" {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			defer conn.Close()
			var one uint8
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("%s: SELECT 1 = %d, %v", name, one, err)
			}
			return
		}
		if err == nil {
			conn.Close()
			t.Fatalf("%s: connected, want an error mentioning %q", name, want)
		}
		if !strings.Contains(err.Error(), want) || errors.Is(err, endpoint.ErrRefused) != refused {
			t.Fatalf("%s: %v (refused %v); want %q, refused %v", name, err, errors.Is(err, endpoint.ErrRefused), want, refused)
		}
	}
	f("tls, password", func(c *warehouse.Config) {}, "", false)
	f("failover", func(c *warehouse.Config) { c.Addr = dead + "," + tlsAddr; c.DialTimeout = 2 * time.Second }, "", false)
	f("untrusted certificate", func(c *warehouse.Config) { c.TLS = endpoint.TLS{Enable: true} }, "-clickhouse-tls-ca-file", true)
	f("wrong name", func(c *warehouse.Config) { c.TLS.ServerName = "clickhouse.example" }, "-clickhouse-tls-server-name", true)
	f("wrong password", func(c *warehouse.Config) { c.Password = "not-the-password" }, "-clickhouse-password-file", true)
	f("tls to the plain port", func(c *warehouse.Config) {
		c.Addr = warehousetest.Config("").Addr
		c.DialTimeout = 3 * time.Second
	}, "drop -clickhouse-tls", true)
	f("nothing answers", func(c *warehouse.Config) { c.Addr = dead; c.DialTimeout = time.Second }, dead, false)
}
