package ingest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// DefaultSealInterval is how often the consumer seals the seconds it wrote (see Sealer).
const DefaultSealInterval = 10 * time.Second

// sealTimeout bounds one sealing pass; finalSealTimeout the last one, on shutdown, which must
// not hold up a SIGTERM much (sealing only ever saves query time).
const (
	sealTimeout      = 2 * time.Minute
	finalSealTimeout = 10 * time.Second
)

// cellSealer is what a Sealer needs of the warehouse: warehouse.Seal over a connection.
type cellSealer func(ctx context.Context, from, to time.Time) error

// Sealer keeps the per-second rollup fast to read: it remembers which minutes of event time the
// consumer inserted into, and every interval seals the space_second cells of those minutes
// (warehouse.Seal), so that queries read their sealed counts instead of merging event ids. It
// never affects a figure, only query speed, so a failed pass is logged and its minutes are
// tried again on the next one; nothing the pipeline does waits for it. Touch may be called from
// any goroutine; Run is started once.
type Sealer struct {
	seal     cellSealer
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[int64]struct{} // minutes (unix seconds / 60) inserted into since the last pass
	passes  int64              // passes that sealed everything they took
	failed  int64              // warehouse.Seal calls that failed
	minutes int64              // minutes sealed
	spent   time.Duration      // time spent in passes
}

// NewSealer returns a Sealer sealing through seal every interval (> 0).
func NewSealer(seal cellSealer, interval time.Duration, logger *slog.Logger) *Sealer {
	return &Sealer{seal: seal, interval: interval, logger: logger, pending: map[int64]struct{}{}}
}

// WarehouseSealer adapts warehouse.Seal on conn to NewSealer.
func WarehouseSealer(conn warehouse.Execer) cellSealer {
	return func(ctx context.Context, from, to time.Time) error { return warehouse.Seal(ctx, conn, from, to) }
}

// Touch records the event seconds (unix) of a block that was inserted.
func (s *Sealer) Touch(secs []int64) {
	if s == nil || len(secs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := int64(-1 << 62)
	for _, sec := range secs {
		if m := floorDiv(sec, 60); m != last {
			s.pending[m] = struct{}{}
			last = m
		}
	}
}

// Passes is the number of sealing passes that succeeded.
func (s *Sealer) Passes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passes
}

// Register registers the Sealer's counters on reg as Prometheus metrics
// (spacepulse_consumer_seal_*), read at scrape time.
func (s *Sealer) Register(reg prometheus.Registerer) error {
	read := func(f func() float64) func() float64 {
		return func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return f() }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "seal_passes_total",
			Help: "Sealing passes that sealed every minute they took."}, read(func() float64 { return float64(s.passes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "seal_failures_total",
			Help: "Sealing statements that failed (their minutes are sealed on a later pass; figures stay exact)."}, read(func() float64 { return float64(s.failed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "sealed_minutes_total",
			Help: "Minutes of event time sealed."}, read(func() float64 { return float64(s.minutes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "seal_seconds_total",
			Help: "Time spent sealing."}, read(func() float64 { return s.spent.Seconds() })),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Run seals every interval until ctx ends, then makes a last pass (bounded by finalSealTimeout) so a
// consumer that drained leaves what it wrote sealed. It returns when that pass is done.
func (s *Sealer) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.pass(ctx)
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalSealTimeout)
			s.pass(final)
			cancel()
			return
		}
	}
}

// pass seals the pending minutes, one warehouse.Seal per run of nearby minutes; the
// minutes of a run that failed go back to pending.
func (s *Sealer) pass(ctx context.Context) {
	s.mu.Lock()
	minutes := make([]int64, 0, len(s.pending))
	for m := range s.pending {
		minutes = append(minutes, m)
	}
	clear(s.pending)
	s.mu.Unlock()
	if len(minutes) == 0 {
		return
	}
	slices.Sort(minutes)
	ctx, cancel := context.WithTimeout(ctx, sealTimeout)
	defer cancel()
	start := time.Now()
	failed, sealed := 0, 0
	for _, r := range runs(minutes) {
		first, last := minutes[r[0]], minutes[r[1]]
		from, to := time.Unix(first*60, 0), time.Unix(last*60+59, 0)
		if err := s.seal(ctx, from, to); err != nil {
			failed++
			s.logger.Warn("sealing cells failed; queries stay exact, the minutes are sealed on the next pass",
				slog.Time("from", from.UTC()), slog.Time("to", to.UTC()), slog.Any("err", err))
			s.mu.Lock()
			for _, m := range minutes[r[0] : r[1]+1] {
				s.pending[m] = struct{}{}
			}
			s.mu.Unlock()
			continue
		}
		sealed += r[1] - r[0] + 1
	}
	s.mu.Lock()
	if failed == 0 {
		s.passes++
	}
	s.failed += int64(failed)
	s.minutes += int64(sealed)
	s.spent += time.Since(start)
	s.mu.Unlock()
	s.logger.Debug("sealed cells", slog.Int("minutes", sealed), slog.Int("failed_runs", failed),
		slog.Duration("took", time.Since(start)))
}

// runGap is the widest gap, in minutes, that runs bridges: sealing a few untouched minutes
// costs less than another statement.
const runGap = 15

// runs splits sorted minutes into runs, bridging gaps of up to runGap minutes: each run is the
// [first, last] indexes into minutes of the minutes it takes.
func runs(minutes []int64) [][2]int {
	var out [][2]int
	for i, m := range minutes {
		if n := len(out); n > 0 && m-minutes[out[n-1][1]] <= runGap {
			out[n-1][1] = i
			continue
		}
		out = append(out, [2]int{i, i})
	}
	return out
}
