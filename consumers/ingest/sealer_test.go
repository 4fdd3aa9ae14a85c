package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRuns(t *testing.T) {
	f := func(in []int64, want [][2]int) {
		t.Helper()
		if got := runs(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("runs(%v) = %v, want %v", in, got, want)
		}
	}
	f(nil, nil)
	f([]int64{5}, [][2]int{{0, 0}})
	f([]int64{5, 6, 7}, [][2]int{{0, 2}})
	f([]int64{5, 5 + runGap}, [][2]int{{0, 1}})
	f([]int64{5, 6 + runGap}, [][2]int{{0, 0}, {1, 1}})
	f([]int64{1, 2, 40, 41, 42}, [][2]int{{0, 1}, {2, 4}})
}

// fakeSeal records the windows sealed and fails while fail is set.
type fakeSeal struct {
	mu    sync.Mutex
	calls [][2]int64
	fail  bool
}

func (f *fakeSeal) seal(_ context.Context, from, to time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("clickhouse is down")
	}
	f.calls = append(f.calls, [2]int64{from.Unix(), to.Unix()})
	return nil
}

func (f *fakeSeal) took() [][2]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

func TestSealerSealsTouchedMinutes(t *testing.T) {
	fake := &fakeSeal{}
	s := NewSealer(fake.seal, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()

	s.pass(ctx) // nothing touched: no statement
	if got := fake.took(); got != nil {
		t.Fatalf("pass with nothing touched sealed %v", got)
	}
	const m = 28_725_120 // 2024-08-13T00:00:00Z in minutes
	s.Touch([]int64{m*60 + 5, m*60 + 59, (m+1)*60 + 1, (m+100)*60 + 30, m*60 + 7})
	s.pass(ctx)
	want := [][2]int64{{m * 60, (m+1)*60 + 59}, {(m + 100) * 60, (m+100)*60 + 59}}
	if got := fake.took(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sealed %v, want %v", got, want)
	}
	s.pass(ctx) // sealed minutes are not sealed again until touched again
	if got := fake.took(); got != nil {
		t.Fatalf("second pass sealed %v, want nothing", got)
	}

	// A failed pass keeps its minutes for the next one.
	fake.fail = true
	s.Touch([]int64{m * 60})
	s.pass(ctx)
	fake.fail = false
	s.pass(ctx)
	if got := fake.took(); !reflect.DeepEqual(got, [][2]int64{{m * 60, m*60 + 59}}) {
		t.Fatalf("after a failure then a pass, sealed %v, want minute %d", got, m)
	}
	if s.Passes() != 2 {
		t.Fatalf("Passes() = %d, want 2 (the failed one does not count)", s.Passes())
	}

	// A nil Sealer (sealing off) takes touches and does nothing.
	var off *Sealer
	off.Touch([]int64{1})
}

func TestSealerLastPassOnStop(t *testing.T) {
	fake := &fakeSeal{}
	s := NewSealer(fake.seal, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	s.Touch([]int64{600})
	cancel()
	<-done
	if got := fake.took(); !reflect.DeepEqual(got, [][2]int64{{600, 659}}) {
		t.Fatalf("stopping sealed %v, want the touched minute", got)
	}
}

func TestSealerMetrics(t *testing.T) {
	fake := &fakeSeal{}
	s := NewSealer(fake.seal, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg := prometheus.NewPedanticRegistry()
	if err := s.Register(reg); err != nil {
		t.Fatal(err)
	}
	s.Touch([]int64{60, 120, 6000})
	s.pass(context.Background())
	fake.fail = true
	s.Touch([]int64{60})
	s.pass(context.Background())
	want := `
# HELP spacepulse_consumer_seal_failures_total Sealing statements that failed (their minutes are sealed on a later pass; figures stay exact).
# TYPE spacepulse_consumer_seal_failures_total counter
spacepulse_consumer_seal_failures_total 1
# HELP spacepulse_consumer_seal_passes_total Sealing passes that sealed every minute they took.
# TYPE spacepulse_consumer_seal_passes_total counter
spacepulse_consumer_seal_passes_total 1
# HELP spacepulse_consumer_sealed_minutes_total Minutes of event time sealed.
# TYPE spacepulse_consumer_sealed_minutes_total counter
spacepulse_consumer_sealed_minutes_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacepulse_consumer_seal_failures_total",
		"spacepulse_consumer_seal_passes_total", "spacepulse_consumer_sealed_minutes_total"); err != nil {
		t.Fatal(err)
	}
}
