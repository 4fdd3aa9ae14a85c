package main

import (
	"bytes"
	"context"
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
	f([]string{"-clickhouse-addr", "nohost"}, 2, `-clickhouse-addr "nohost": want host:port (SPACEPULSE_CLICKHOUSE_ADDR)`)
	f([]string{"-clickhouse-database", "a-b"}, 2, "-clickhouse-database")
	f([]string{"-nope"}, 2, "flag provided but not defined")
	f([]string{"extra"}, 2, `unexpected argument "extra"`)
	f([]string{"-clickhouse-addr", "127.0.0.1:1"}, 1, "127.0.0.1:1")
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
