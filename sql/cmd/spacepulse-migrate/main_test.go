package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

func TestRunExitCodes(t *testing.T) {
	f := func(args []string, want int, wantStderr string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), args, &stdout, &stderr); got != want || !strings.Contains(stderr.String(), wantStderr) {
			t.Fatalf("run(%q) = %d, stderr %q; want %d and %q", args, got, stderr.String(), want, wantStderr)
		}
	}
	f([]string{"-clickhouse-addr", "nohost"}, 2, `-clickhouse-addr "nohost": want host:port, or several comma-separated (SPACEPULSE_CLICKHOUSE_ADDR)`)
	f([]string{"-clickhouse-database", "a-b"}, 2, "-clickhouse-database")
	f([]string{"-nope"}, 2, "-nope is not a flag of spacepulse-migrate")
	f([]string{"extra"}, 2, `unexpected argument "extra"`)
	f([]string{"-clickhouse-addr", "127.0.0.1:1"}, 1, "127.0.0.1:1")
	f([]string{"-cluster", "a b"}, 2, `-cluster "a b": want the name of a cluster`)
	f([]string{"-reconcile", "yesterday"}, 2, "want FROM,TO in RFC 3339")
	f([]string{"-reconcile", "2024-08-13T04:00:00Z,2024-08-13T00:00:00Z"}, 2, "FROM <= TO")
}

func TestRunMigrates(t *testing.T) {
	_, cfg := warehousetest.NewDatabase(t) // already current
	var stdout, stderr bytes.Buffer
	args := []string{"-clickhouse-addr", cfg.Addr, "-clickhouse-database", cfg.Database}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "schema is current") {
		t.Fatalf("run = %d, stdout %q, stderr %q; want 0 and schema is current", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	args = append(args, "-reconcile", "2024-08-13T00:00:00Z,2024-08-13T04:00:00Z")
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "0 per-second, 0 per-minute and 0 join-latency cells corrected") {
		t.Fatalf("run -reconcile = %d, stdout %q, stderr %q; want 0 and nothing corrected in an empty database", code, stdout.String(), stderr.String())
	}
}

// Over the server's TLS port: migrates with the CA given; exits 2 with one line naming the flag
// to change for an untrusted certificate and for a wrong password read from a file.
func TestRunOverTLS(t *testing.T) {
	_, cfg := warehousetest.NewDatabase(t)
	tlsAddr, caFile := warehousetest.TLSServer(t)
	wrong := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(wrong, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(args []string, env map[string]string, want int, wantOut string) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		var stdout, stderr bytes.Buffer
		args = append([]string{"-clickhouse-addr", tlsAddr, "-clickhouse-database", cfg.Database}, args...)
		got := run(context.Background(), args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if got != want || !strings.Contains(out, wantOut) || (want == 2 && strings.Count(stderr.String(), "\n") != 1) {
			t.Fatalf("run(%q) %v = %d, stdout %q, stderr %q; want %d and %q (one line)", args, env, got, stdout.String(), stderr.String(), want, wantOut)
		}
		for k := range env {
			t.Setenv(k, "")
		}
	}
	f([]string{"-clickhouse-tls-ca-file", caFile}, nil, 0, "schema is current")
	f(nil, map[string]string{"SPACEPULSE_CLICKHOUSE_TLS_CA_FILE": caFile}, 0, "schema is current")
	f([]string{"-clickhouse-tls"}, nil, 2, "set -clickhouse-tls-ca-file")
	f([]string{"-clickhouse-tls-ca-file", caFile}, map[string]string{"SPACEPULSE_CLICKHOUSE_PASSWORD_FILE": wrong}, 2, "check -clickhouse-user and -clickhouse-password")
}

// TestRunMigratesCluster runs -cluster against the loopback cluster (make test-cluster): a
// database made by it is current, and a cluster the servers do not know is an error that says so.
func TestRunMigratesCluster(t *testing.T) {
	_, cfg := warehousetest.NewClusterDatabase(t) // already current
	f := func(args []string, want int, wantOut string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != want || !strings.Contains(stdout.String()+stderr.String(), wantOut) {
			t.Fatalf("run(%q) = %d, stdout %q, stderr %q; want %d and %q", args, code, stdout.String(), stderr.String(), want, wantOut)
		}
	}
	args := []string{"-clickhouse-addr", cfg.Addr, "-clickhouse-database", cfg.Database}
	f(append(args, "-cluster", cfg.Cluster), 0, "schema is current")
	f(append(args, "-cluster", "nosuchcluster"), 1, "-cluster nosuchcluster: no such cluster in the remote_servers")
}
