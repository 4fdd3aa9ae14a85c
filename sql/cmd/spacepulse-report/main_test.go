package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	f(nil, 2, "--space: want a space id")
	f([]string{"--space", "s", "--from", "noon"}, 2, `--from: time "noon"`)
	f([]string{"--space", "s", "--from", "200", "--to", "100"}, 2, "is before --from")
	f([]string{"--space", "s", "-clickhouse-addr", "x"}, 2, "-clickhouse-addr")
	f([]string{"--space", "s", "stray"}, 2, `unexpected argument "stray"`)
	f([]string{"--space", "s", "-clickhouse-addr", "127.0.0.1:1"}, 1, "127.0.0.1:1")
}

func TestRunReportsAnEmptyDatabase(t *testing.T) {
	conn, cfg := warehousetest.NewDatabase(t)
	// INSERT ... VALUES through conn.Exec waits for a data block 18.16 never asks for; SELECT works.
	err := conn.Exec(context.Background(), "INSERT INTO events (event_id, kind, ts, ts_ms, space_id, session_id, user_id, role) "+
		"SELECT toUUID('6f1c0a4e-3a8b-4f7e-9d2a-0c5e7b1d9a31'), 'join', toDateTime(1723509737, 'UTC'), 1723509737123, 'sp', "+
		"toUUID('b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d'), 'u', 'listener'")
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	base := []string{"-clickhouse-addr", cfg.Addr, "-clickhouse-database", cfg.Database}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append(base, "--space", "sp", "--json", "--to", "1723509739"), &stdout, &stderr); code != 0 {
		t.Fatalf("run --json = %d, stderr %q", code, stderr.String())
	}
	var doc struct {
		PeakConcurrency int64      `json:"peak_concurrency"`
		Concurrency     [][2]int64 `json:"concurrency"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || doc.PeakConcurrency != 1 || len(doc.Concurrency) != 3 {
		t.Fatalf("json %s (%v): want peak 1 and 3 seconds", stdout.String(), err)
	}
	stdout.Reset()
	if code := run(context.Background(), append(base, "--space", "other"), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "spaces with events: sp") {
		t.Fatalf("run for an unknown space = %d, stderr %q; want 1 naming sp", code, stderr.String())
	}
}
