package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// pinger is the part of a ClickHouse connection /readyz checks.
type pinger interface {
	Ping(ctx context.Context) error
}

// Health answers /healthz and /readyz on the metrics address.
//
// /healthz answers 200 while the process serves it: a consumer waiting out a ClickHouse or
// Kafka outage is alive (it retries, and loses nothing), and restarting it would not help.
//
// /readyz answers 200 only when ClickHouse answers a ping, the broker answered the lag poller
// within the last three intervals, and the oldest uncommitted message of the group is younger
// than MaxLag; otherwise 503. Either way the body says each check's state in one line, so the
// reason for not ready is in the answer.
type Health struct {
	ClickHouse pinger     // nil: not checked
	Lag        *LagPoller // nil: neither Kafka nor the lag is checked
	Interval   time.Duration
	MaxLag     time.Duration // default DefaultReadyMaxLag
	Now        func() time.Time
}

// ready runs the checks and says whether all passed, with one line per check.
func (h *Health) ready(ctx context.Context) (bool, string) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	maxLag := h.MaxLag
	if maxLag <= 0 {
		maxLag = DefaultReadyMaxLag
	}
	interval := h.Interval
	if interval <= 0 {
		interval = DefaultLagInterval
	}
	var b strings.Builder
	ok := true
	fail := func(format string, args ...any) {
		ok = false
		fmt.Fprintf(&b, format+"\n", args...)
	}
	if h.ClickHouse != nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := h.ClickHouse.Ping(pctx)
		cancel()
		if err != nil {
			fail("clickhouse: not ready: cannot ping: %v", err)
		} else {
			b.WriteString("clickhouse: ok\n")
		}
	}
	if h.Lag != nil {
		at, err := h.Lag.Answered()
		switch {
		case at.IsZero():
			fail("kafka: not ready: the broker has not answered the lag poller yet (last error: %v)", err)
		case now().Sub(at) > 3*interval:
			fail("kafka: not ready: the broker last answered %s ago: %v", now().Sub(at).Round(time.Second), err)
		default:
			b.WriteString("kafka: ok\n")
		}
		if age := h.Lag.MaxAge(); age > maxLag {
			fail("lag: not ready: the oldest uncommitted message waited %s, over %s (%d messages behind)",
				age.Round(time.Second), maxLag, h.Lag.Lag())
		} else {
			fmt.Fprintf(&b, "lag: ok: %s, %d messages\n", age.Round(time.Second), h.Lag.Lag())
		}
	}
	return ok, b.String()
}

// routes adds /healthz and /readyz to mux.
func (h *Health) routes(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, body := h.ready(r.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(body))
	})
}
