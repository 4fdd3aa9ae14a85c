package ingest

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// The copy sweep: the one case the landed-event index cannot see is a copy of an event landed by
// another consumer process of the group (a copy that came through a partition the other member
// owns, since this member's index last loaded; or the in-flight batch of a partition revoked from
// a member, landing after the new owner loaded). Both processes insert it; events (a
// ReplacingMergeTree on space_id, ts, event_id) folds the copy at its next merge, but the views
// have counted it twice. Each process therefore sweeps the minutes of event time it landed:
// every SweepInterval (jittered) it compares, for those minutes, each rollup with the distinct
// events of the raw table (warehouse.CountsAgree, one read) and, where they differ,
// rewrites the cells (warehouse.Reconcile, which counts distinct events and writes only
// differences that held still across three reads). A copy lands in the cell of its original, so
// both processes that landed it sweep that cell; a minute repaired is checked again by the next
// two sweeps, so two processes correcting the same cell at the same instant (the milliseconds
// between Reconcile's last read and its write) are caught and undone. Alone in its group (no other
// live heartbeat in ingest_heartbeat over the interval) a process cannot have landed such a copy,
// and a sweep costs nothing but that one query.

// DefaultSweepInterval is how often a consumer sweeps the minutes it landed for copies landed by
// another member: a copy is counted twice for at most about this long plus Reconcile's settle
// (2 s) and its reads.
const DefaultSweepInterval = 10 * time.Second

// sweepRechecks is how many more sweeps check a minute after one repaired it.
const sweepRechecks = 2

// SweepStore is what the copy sweep asks the warehouse (SweepFrom makes one from a ClickHouse
// connection); its methods are this package's own.
type SweepStore interface {
	otherMembers(ctx context.Context, group, topic, self string, within time.Duration) (int64, error)
	countsAgree(ctx context.Context, from, to time.Time) (raw, rolled int64, err error)
	reconcile(ctx context.Context, from, to time.Time) (warehouse.Repair, error)
}

type warehouseSweep struct{ conn driver.Conn }

func (w warehouseSweep) otherMembers(ctx context.Context, group, topic, self string, within time.Duration) (int64, error) {
	return warehouse.OtherMembers(ctx, w.conn, group, topic, self, within)
}

func (w warehouseSweep) countsAgree(ctx context.Context, from, to time.Time) (int64, int64, error) {
	return warehouse.CountsAgree(ctx, w.conn, from, to)
}

func (w warehouseSweep) reconcile(ctx context.Context, from, to time.Time) (warehouse.Repair, error) {
	return warehouse.Reconcile(ctx, w.conn, from, to, 2*time.Second)
}

// SweepFrom returns the SweepStore of a ClickHouse connection, for Config.Sweep.
func SweepFrom(conn driver.Conn) SweepStore { return warehouseSweep{conn} }

// sweep holds the minutes (Unix seconds / 60) of event time landed since the last sweep. The
// writer adds to it; the sweep loop takes it.
type sweep struct {
	mu      sync.Mutex
	landed  map[int64]struct{}
	recheck map[int64]int      // minute -> sweeps left that check it again after a repair
	forced  map[int64]struct{} // swept even when alone: redelivered landed events (batcher.redelivering)
}

// force makes the next sweep check the minutes lo..hi whether or not another member is alive.
func (s *sweep) force(lo, hi int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forced == nil {
		s.forced = map[int64]struct{}{}
	}
	for m := lo; m <= hi && m-lo < 7*24*60; m++ { // a week at most: an event ts is within it
		s.forced[m] = struct{}{}
	}
}

// add records the minutes of rec's events, which have just landed.
func (s *sweep) add(rec arrow.RecordBatch) {
	ts := rec.Column(schemas.ColTS).(*array.Timestamp).TimestampValues()
	if len(ts) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.landed == nil {
		s.landed = map[int64]struct{}{}
	}
	last := int64(-1 << 62)
	for _, t := range ts {
		if m := floorDiv(int64(t), 60_000); m != last { // events come in runs of one minute
			s.landed[m] = struct{}{}
			last = m
		}
	}
}

// take returns the minutes to sweep now (landed since the last sweep, those to check again and
// the forced ones), sorted, and the forced ones alone; it forgets the landed and forced ones.
func (s *sweep) take() (all, forced []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := make(map[int64]struct{}, len(s.landed)+len(s.recheck)+len(s.forced))
	for m := range s.landed {
		set[m] = struct{}{}
	}
	for m := range s.recheck {
		set[m] = struct{}{}
	}
	for m := range s.forced {
		set[m] = struct{}{}
		forced = append(forced, m)
	}
	for m := range set {
		all = append(all, m)
	}
	clear(s.landed)
	clear(s.forced)
	slices.Sort(all)
	slices.Sort(forced)
	return all, forced
}

// untake puts the minutes of a sweep that could not run back for the next one, the forced ones
// still forced.
func (s *sweep) untake(ms, forced []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.landed == nil {
		s.landed = map[int64]struct{}{}
	}
	for _, m := range ms {
		s.landed[m] = struct{}{}
	}
	if len(forced) > 0 && s.forced == nil {
		s.forced = map[int64]struct{}{}
	}
	for _, m := range forced {
		s.forced[m] = struct{}{}
	}
}

// swept records the outcome for the minutes lo..hi: repaired ones are checked by the next
// sweepRechecks sweeps, the others count one check down.
func (s *sweep) swept(lo, hi int64, repaired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recheck == nil {
		s.recheck = map[int64]int{}
	}
	for m := lo; m <= hi; m++ {
		switch left, ok := s.recheck[m]; {
		case repaired:
			s.recheck[m] = sweepRechecks
		case ok && left <= 1:
			delete(s.recheck, m)
		case ok:
			s.recheck[m] = left - 1
		}
	}
}

// minuteRuns splits sorted minutes into runs of consecutive ones, each [lo, hi].
func minuteRuns(ms []int64) [][2]int64 {
	var runs [][2]int64
	for _, m := range ms {
		if n := len(runs); n > 0 && runs[n-1][1]+1 >= m {
			runs[n-1][1] = max(runs[n-1][1], m)
			continue
		}
		runs = append(runs, [2]int64{m, m})
	}
	return runs
}

// sweepLoop sweeps every SweepInterval, jittered by ±20% so that two members do not sweep in step.
func (p *Pipeline) sweepLoop(ctx context.Context) {
	jitter := func() time.Duration {
		d := p.cfg.SweepInterval
		return d - d/5 + rand.N(2*d/5+1)
	}
	t := time.NewTimer(jitter())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.sweepOnce(ctx)
		t.Reset(jitter())
	}
}

// sweepOnce sweeps the minutes landed since the last sweep; see the comment at the top.
func (p *Pipeline) sweepOnce(ctx context.Context) {
	ms, forced := p.sweep.take()
	if len(ms) == 0 {
		return
	}
	log, store := p.cfg.Logger, p.cfg.Sweep
	// A member that died during the interval may have landed copies before it did: look back
	// over the interval and the heartbeat's staleness.
	others, err := store.otherMembers(ctx, p.cfg.Group, p.cfg.Topic, p.cfg.ConsumerID, p.cfg.SweepInterval+warehouse.StaleAfter)
	if err != nil {
		p.sweep.untake(ms, forced)
		log.Warn("copy sweep: cannot read the group's heartbeats; will try again", slog.Any("err", err))
		return
	}
	if others == 0 {
		// Alone: no other process can have landed a copy of what this one landed; only the
		// redelivered minutes are checked.
		if ms = forced; len(ms) == 0 {
			return
		}
	}
	p.stats.Sweeps.Add(1)
	for _, run := range minuteRuns(ms) {
		from, to := time.Unix(run[0]*60, 0), time.Unix(run[1]*60+59, 0)
		raw, rolled, err := store.countsAgree(ctx, from, to)
		if err != nil {
			p.sweep.untake(ms, forced)
			log.Warn("copy sweep: cannot compare counts; will try again", slog.Any("err", err))
			return
		}
		if raw == rolled {
			p.sweep.swept(run[0], run[1], false)
			continue
		}
		rep, err := store.reconcile(ctx, from, to)
		if err != nil {
			p.sweep.untake(ms, forced)
			log.Warn("copy sweep: cannot reconcile; will try again", slog.Time("from", from.UTC()), slog.Time("to", to.UTC()), slog.Any("err", err))
			return
		}
		p.sweep.swept(run[0], run[1], true)
		p.stats.SweepRepairs.Add(rep.Rows)
		log.Info("copy sweep: rollups reconciled", slog.Time("from", from.UTC()), slog.Time("to", to.UTC()),
			slog.Int64("raw_events", raw), slog.Int64("rolled_events", rolled),
			slog.Int("second_cells", rep.Seconds), slog.Int("minute_cells", rep.Minutes), slog.Int("latency_cells", rep.Latency),
			slog.Int64("rows", rep.Rows), slog.Int("unsettled", rep.Unsettled))
	}
}
