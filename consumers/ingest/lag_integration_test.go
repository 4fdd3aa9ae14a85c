package ingest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/prometheus/client_golang/prometheus"
)

// outage is a store and a ClickHouse ping that fail while down is set, as an unreachable
// ClickHouse does.
type outage struct {
	store blockWriter
	down  atomic.Bool
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:9000: connection refused (test outage)")

func (o *outage) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	if o.down.Load() {
		return errUnreachable
	}
	return o.store.WriteBlock(ctx, rec, again)
}

func (o *outage) Ping(context.Context) error {
	if o.down.Load() {
		return errUnreachable
	}
	return nil
}

// During a ClickHouse outage the pipeline stops committing and its fetch stops on back-pressure;
// the lag, read from the real broker by the lag poller, keeps rising in messages and in seconds,
// and /readyz says not ready, naming ClickHouse and the lag. When ClickHouse is back everything
// lands, the lag falls to zero and /readyz is ready again.
func TestLagRisesDuringAnOutage(t *testing.T) {
	brokers, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	topic := newTopic(t, brokers, randomName("lag-"), 3)
	group := randomName("lag-group-")
	o := &outage{}
	o.down.Store(true)
	run := startPipeline(t, brokers, topic, topic+".dlq", group, ch, conn,
		func(s blockWriter) blockWriter { o.store = s; return o })
	poller, err := NewLagPoller(brokers, group, topic, 100*time.Millisecond, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); poller.Run(ctx) }()
	defer func() { cancel(); <-pollDone }()
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterMetrics(reg, run.p.Stats(), poller); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(func() http.Handler {
		mux := http.NewServeMux()
		(&Health{ClickHouse: o, Lag: poller, Interval: 100 * time.Millisecond, MaxLag: time.Second}).routes(mux)
		return mux
	}())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}

	const n = 3000
	load := makeLoad(n, time.Now().Add(-10*time.Minute), 41)
	produce(t, brokers, topic, load.msgs)
	total := float64(len(load.msgs))
	waitFor(t, "the lag to count every message produced", func() (bool, string) {
		got := gauge("spacepulse_consumer_lag_messages")
		return got == total, describe("lag_messages %v of %v", got, total)
	})
	// The age rises poll after poll while nothing commits: seen at two later moments.
	var ages []float64
	waitFor(t, "the lag age to rise past /readyz's bound and keep rising", func() (bool, string) {
		a := gauge("spacepulse_consumer_lag_seconds")
		if len(ages) == 0 || a > ages[len(ages)-1] {
			ages = append(ages, a)
		}
		return len(ages) >= 3 && a > 1.5, describe("ages %v", ages)
	})
	if got := gauge("spacepulse_consumer_lag_messages"); got != total {
		t.Fatalf("lag_messages %v during the outage, want %v (nothing committed)", got, total)
	}
	if got := run.p.Stats().Events.Load(); got != 0 {
		t.Fatalf("%d events landed during the outage", got)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "clickhouse: not ready") ||
		!strings.Contains(body, "lag: not ready") || !strings.Contains(body, "kafka: ok") {
		t.Fatalf("/readyz during the outage: %d %q; want 503 naming clickhouse and the lag, kafka ok", code, body)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during the outage: %d %q, want 200 (alive)", code, body)
	}

	o.down.Store(false)
	waitFor(t, "the lag to fall to zero and /readyz to be ready", func() (bool, string) {
		code, body := get("/readyz")
		return code == http.StatusOK && gauge("spacepulse_consumer_lag_messages") == 0 && gauge("spacepulse_consumer_lag_seconds") == 0,
			describe("%d %q, lag %v", code, body, gauge("spacepulse_consumer_lag_messages"))
	})
	if got := count(t, conn, "SELECT count() FROM events"); got != uint64(len(load.events)) {
		t.Fatalf("events holds %d rows, want %d", got, len(load.events))
	}
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
}
