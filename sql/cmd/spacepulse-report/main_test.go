package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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
	f([]string{"--space", "s", "--png", "x.png", "--tz", "Mars/Olympus"}, 2, "--tz: unknown time zone Mars/Olympus")
	f([]string{"--space", "s", "--svg", "x.svg", "--size", "big"}, 2, `--size: "big": want WIDTHxHEIGHT`)
	f([]string{"--space", "s", "--png", "x.png", "--size", "100x100"}, 2, `--size: "100x100"`)
	f([]string{"--space", "s", "--png", "x.png", "--phases", "/nonexistent/phases.json"}, 2, "--phases: open /nonexistent/phases.json")
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

// TestRunDrawsTheNight reports and draws a 20-minute room from ClickHouse: one join attempt a
// second, half of them failing technically in minutes 5-9 (the alert fires at +7m and clears at
// +11m), and only space_ended failures in minutes 15-19 (never paged).
func TestRunDrawsTheNight(t *testing.T) {
	conn, cfg := warehousetest.NewDatabase(t)
	ctx := context.Background()
	t0 := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (event_id, kind, ts, ts_ms, space_id, session_id, user_id, role, phase, code, reason)")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	for s := range 20 * 60 {
		ts := t0.Add(time.Duration(s) * time.Second)
		kind, phase, code := "join", "", ""
		switch m := s / 60; {
		case m >= 5 && m <= 9 && s%2 == 0:
			kind, phase, code = "error", "join", "details_not_available"
		case m >= 15:
			kind, phase, code = "error", "join", "space_ended"
		}
		session := uuid.New()
		if err := batch.Append(uuid.New(), kind, ts, ts.UnixMilli(), "night", session, fmt.Sprint("u", s), "listener", phase, code, ""); err != nil {
			t.Fatalf("append: %v", err)
		}
		if kind == "join" && s%3 == 0 { // a third leave after 4 minutes
			lt := ts.Add(4 * time.Minute)
			if err := batch.Append(uuid.New(), "leave", lt, lt.UnixMilli(), "night", session, fmt.Sprint("u", s), "listener", "", "", "user"); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send: %v", err)
	}
	dir := t.TempDir()
	phases := filepath.Join(dir, "phases.json")
	err = os.WriteFile(phases, []byte(`[{"name":"calm","start":"2024-08-13T00:00:00Z","end":"2024-08-13T00:05:00Z"},
		{"name":"failure window","start":"2024-08-13T00:05:00Z","end":"2024-08-13T00:10:00Z"},
		{"name":"room ended","start":"2024-08-13T00:15:00Z","end":"2024-08-13T00:20:00Z"}]`), 0o644)
	if err != nil {
		t.Fatalf("write phases: %v", err)
	}
	pngFile, svgFile := filepath.Join(dir, "night.png"), filepath.Join(dir, "night.svg")
	base := []string{"-clickhouse-addr", cfg.Addr, "-clickhouse-database", cfg.Database, "--space", "night"}
	var stdout, stderr bytes.Buffer
	args := append(base, "--png", pngFile, "--svg", svgFile, "--size", "1200x800", "--tz", "America/New_York", "--phases", phases)
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %q = %d, stderr %q", args, code, stderr.String())
	}
	if want := "fired 2024-08-13T00:07:00Z, cleared 2024-08-13T00:11:00Z (4m0s)"; !strings.Contains(stdout.String(), want) {
		t.Fatalf("text report lacks %q:\n%s", want, stdout.String())
	}
	data, err := os.ReadFile(pngFile)
	if err != nil {
		t.Fatalf("read png: %v", err)
	}
	if dir := os.Getenv("SPACEPULSE_PLOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "cli-night.png"), data, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 1200 || img.Bounds().Dy() != 800 {
		t.Fatalf("png: %v, %v; want 1200x800", err, img.Bounds())
	}
	if svg, err := os.ReadFile(svgFile); err != nil || !strings.Contains(string(svg), "failure window") {
		t.Fatalf("svg (%v) lacks the phase \"failure window\"", err)
	}

	stdout.Reset()
	if code := run(ctx, append(base, "--json"), &stdout, &stderr); code != 0 {
		t.Fatalf("run --json = %d, stderr %q", code, stderr.String())
	}
	var doc struct {
		Alerts json.RawMessage `json:"alerts"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v", err)
	}
	if got, want := string(doc.Alerts), `[{"fired_at":"2024-08-13T00:07:00Z","cleared_at":"2024-08-13T00:11:00Z"}]`; got != want {
		t.Fatalf("alerts = %s, want %s", got, want)
	}
}
