package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fakePing struct{ err error }

func (f fakePing) Ping(context.Context) error { return f.err }

// /readyz is ready only when ClickHouse answers, the broker answered the lag poller lately and
// the oldest uncommitted message is younger than the bound; the body names what is not.
func TestHealthReady(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := func(ping error, answered time.Duration, pollErr error, age time.Duration, wantOK bool, want ...string) {
		t.Helper()
		l := &LagPoller{logger: slog.New(slog.DiscardHandler), now: func() time.Time { return now }, parts: map[int32]*partitionLag{}}
		if answered >= 0 {
			l.lastOK = now.Add(-answered)
		}
		l.lastErr = pollErr
		l.parts[0] = &partitionLag{end: 10, committed: 4, seen: []endSeen{{end: 10, at: now.Add(-age)}}}
		h := &Health{ClickHouse: fakePing{ping}, Lag: l, Interval: 5 * time.Second, MaxLag: time.Minute, Now: func() time.Time { return now }}
		ok, body := h.ready(context.Background())
		if ok != wantOK {
			t.Fatalf("ready = %v, want %v; body %q", ok, wantOK, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Fatalf("body %q does not say %q", body, w)
			}
		}
	}
	down := errors.New("connection refused")
	f(nil, time.Second, nil, 10*time.Second, true, "clickhouse: ok", "kafka: ok", "lag: ok: 10s, 6 messages")
	f(down, time.Second, nil, 10*time.Second, false, "clickhouse: not ready: cannot ping: connection refused", "kafka: ok")
	f(nil, time.Minute, down, 10*time.Second, false, "kafka: not ready: the broker last answered 1m0s ago: connection refused")
	f(nil, -1, down, 0, false, "kafka: not ready: the broker has not answered")
	f(nil, time.Second, nil, 2*time.Minute, false, "lag: not ready: the oldest uncommitted message waited 2m0s, over 1m0s (6 messages behind)")
}
