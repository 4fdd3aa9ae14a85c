package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/report"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

func TestParseTime(t *testing.T) {
	f := func(in string, want time.Time, wantErr bool) {
		t.Helper()
		got, err := report.ParseTime(in)
		if (err != nil) != wantErr || !got.Equal(want) {
			t.Fatalf("ParseTime(%q) = %v, %v; want %v (error %v)", in, got, err, want, wantErr)
		}
	}
	t0 := time.Date(2024, 8, 13, 0, 42, 17, 0, time.UTC)
	f("1723509737", t0, false)
	f("2024-08-13T00:42:17Z", t0, false)
	f("2024-08-12T20:42:17-04:00", t0, false)
	f("2024-08-13T00:42:17.123Z", t0.Add(123*time.Millisecond), false)
	f("0", time.Unix(0, 0), false)
	f("yesterday", time.Time{}, true)
	f("2024-08-13 00:42:17", time.Time{}, true)
	f("", time.Time{}, true)
}

// insert writes events (kind, second offset from t0, event id) to space s, each once (as the
// consumer lands them).
func insert(t *testing.T, conn driver.Conn, space string, t0 time.Time, evs []struct {
	kind string
	at   int
	id   uuid.UUID
}) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO events (event_id, kind, ts, ts_ms, space_id, session_id, user_id, role, join_ms, phase, code)")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	for i, e := range evs {
		ts := t0.Add(time.Duration(e.at) * time.Second)
		phase, code := "", ""
		if e.kind == "error" {
			phase, code = "join", "timeout"
		}
		if err := batch.Append(e.id, e.kind, ts, ts.UnixMilli(), space, uuid.New(), "u"+string(rune('a'+i)), "listener", int64(100*i), phase, code); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestBuildAndWrite(t *testing.T) {
	conn, _ := warehousetest.NewDatabase(t)
	ctx := context.Background()
	t0 := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	type ev = struct {
		kind string
		at   int
		id   uuid.UUID
	}
	insert(t, conn, "room", t0, []ev{{"join", 0, a}, {"join", 2, b}, {"error", 2, c}, {"leave", 5, d}})

	r, err := report.Build(ctx, conn, report.Options{Space: "room"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	f := func(key string, want any) {
		t.Helper()
		got, _ := json.Marshal(doc[key])
		wantJSON, _ := json.Marshal(want)
		if string(got) != string(wantJSON) {
			t.Fatalf("%s = %s, want %s", key, got, wantJSON)
		}
	}
	f("space", "room")
	f("from", "2024-08-13T00:00:00Z")
	f("to", "2024-08-13T00:00:05Z")
	f("peak_concurrency", 2)
	f("peak_at", "2024-08-13T00:00:02Z")
	f("concurrency", [][2]int64{{t0.Unix(), 1}, {t0.Unix() + 1, 1}, {t0.Unix() + 2, 2}, {t0.Unix() + 3, 2}, {t0.Unix() + 4, 2}, {t0.Unix() + 5, 1}})
	f("join_attempts", 3)
	f("join_failures", 1)
	f("business_join_failures", 0)
	f("unique_listeners", 2)
	f("join_failure_rate", nil) // 3 attempts: not enough data

	r, err = report.Build(ctx, conn, report.Options{Space: "room", From: t0.Add(3 * time.Second), To: t0.Add(4 * time.Second)})
	if err != nil {
		t.Fatalf("Build with a window: %v", err)
	}
	if len(r.Concurrency) != 2 || r.Concurrency[0].Listeners != 2 || r.Summary.JoinAttempts != 0 {
		t.Fatalf("window 3s..4s: concurrency %v, attempts %d; want [2 2] and 0", r.Concurrency, r.Summary.JoinAttempts)
	}
	out.Reset()
	if err := r.WriteText(&out); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	for _, want := range []string{"2 listeners at 2024-08-13T00:00:03Z", "not enough data per attempt"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("text report lacks %q:\n%s", want, out.String())
		}
	}

	_, err = report.Build(ctx, conn, report.Options{Space: "nope"})
	if !errors.Is(err, warehouse.ErrUnknownSpace) || !strings.Contains(err.Error(), "room") {
		t.Fatalf("Build of an unknown space: %v, want ErrUnknownSpace naming room", err)
	}
}
