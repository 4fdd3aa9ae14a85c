package ingest

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Defaults of the landed-event index (see index).
const (
	// DefaultDedupWindow is how much event time before the newest event the index covers:
	// copies and late events up to this much older than the newest event are checked in memory.
	DefaultDedupWindow = 15 * time.Minute
	// DefaultDedupMaxIDs bounds the index; past it the oldest minutes are given up (their late
	// events are then looked up in ClickHouse instead), so memory stays bounded at any rate.
	DefaultDedupMaxIDs = 2_000_000
)

// LandedStore is what the landed-event index asks the warehouse (LandedFrom makes one from a
// ClickHouse connection); its methods are this package's own.
type LandedStore interface {
	// since calls add for every event stored with ts >= the given time.
	since(ctx context.Context, t time.Time, add func(second int64, id uuid.UUID)) error
	// stored returns the ids of those keys that are stored.
	stored(ctx context.Context, keys []warehouse.EventKey) ([]uuid.UUID, error)
}

// warehouseLanded is LandedStore over a ClickHouse connection.
type warehouseLanded struct{ conn warehouse.Querier }

func (w warehouseLanded) since(ctx context.Context, t time.Time, add func(int64, uuid.UUID)) error {
	return warehouse.LandedSince(ctx, w.conn, t, add)
}

func (w warehouseLanded) stored(ctx context.Context, keys []warehouse.EventKey) ([]uuid.UUID, error) {
	return warehouse.StoredEvents(ctx, w.conn, keys)
}

// LandedFrom returns the LandedStore of a ClickHouse connection, for Config.Landed.
func LandedFrom(conn warehouse.Querier) LandedStore { return warehouseLanded{conn} }

// verdict is what the index says of an event.
type verdict int8

const (
	fresh     verdict = iota // never seen: land it (the index now holds it)
	duplicate                // seen or landed already: drop it, commit its offset
	unknown                  // older than the index covers: look it up in ClickHouse
)

// index knows the event ids that this consumer has landed or holds to land, and those that
// were stored when it last read ClickHouse, by minute of event time. A copy of an event has the
// same ts, so it is looked for in one minute's set only. It covers every minute from lo on;
// an event of an earlier minute is unknown to it and must be looked up. A minute is given up
// only once every batch that added to it has landed (landed >= its seq): until then a lookup in
// ClickHouse could not find its events yet. Owned by the batcher goroutine: no locks.
type index struct {
	window  int64 // minutes covered before the newest one
	maxIDs  int
	minutes map[int64]*minuteSet
	ids     int
	lo      int64 // first minute covered; math.MaxInt64 until the first load
	newest  int64 // newest minute seen (never ahead of the wall clock by more than a minute)
	now     func() time.Time
	cur     int64         // sequence number of the batch being filled
	landed  *atomic.Int64 // sequence number of the last batch landed (the writer's)
}

type minuteSet struct {
	ids idSet
	seq int64 // the last batch that added an id of this consumer's
}

func newIndex(window time.Duration, maxIDs int, now func() time.Time, landed *atomic.Int64) *index {
	return &index{
		window:  max(int64(window/time.Minute), 1),
		maxIDs:  maxIDs,
		minutes: map[int64]*minuteSet{},
		lo:      math.MaxInt64,
		newest:  math.MinInt64,
		now:     now,
		cur:     1,
		landed:  landed,
	}
}

func (x *index) minute(m int64) *minuteSet {
	set := x.minutes[m]
	if set == nil {
		set = &minuteSet{}
		x.minutes[m] = set
	}
	return set
}

// coverAll makes the index cover every minute (no warehouse to load from: unit tests).
func (x *index) coverAll() { x.lo = math.MinInt64 }

// check classifies the event id at unix second sec, adding a fresh one.
func (x *index) check(sec int64, id uuid.UUID) verdict {
	m := floorDiv(sec, 60)
	if m < x.lo {
		return unknown
	}
	set := x.minute(m)
	if !set.ids.add(id) {
		return duplicate
	}
	set.seq = x.cur
	x.ids++
	if m > x.newest {
		x.advance(m)
	} else if x.ids > x.maxIDs {
		x.evict(x.lo + 1)
	}
	return fresh
}

// add records an id known to be landed (loaded from ClickHouse, or looked up and found new).
func (x *index) add(sec int64, id uuid.UUID) {
	m := floorDiv(sec, 60)
	if m < x.lo {
		return
	}
	if x.minute(m).ids.add(id) {
		x.ids++
	}
}

// advance moves the newest minute to m (clamped to the wall clock: an event up to 24 h ahead
// is valid, and must not make the index give up the present) and gives up what falls out of
// the window.
func (x *index) advance(m int64) {
	wall := floorDiv(x.now().Unix(), 60) + 1
	x.newest = max(x.newest, min(m, wall))
	if x.newest-x.window > x.lo {
		x.evict(x.newest - x.window)
	}
	for x.ids > x.maxIDs && x.lo < x.newest {
		before := x.lo
		if x.evict(x.lo + 1); x.lo == before {
			break // the oldest minute's batches are still in flight
		}
	}
}

// evict gives up the minutes before lo, oldest first, stopping at one that a batch still in
// flight added to; lo becomes the first minute kept.
func (x *index) evict(lo int64) {
	if lo <= x.lo {
		return
	}
	landed := x.landed.Load()
	for _, set := range x.minutes {
		if set.seq > landed {
			keep := int64(math.MaxInt64)
			for m, s := range x.minutes {
				if s.seq > landed {
					keep = min(keep, m)
				}
			}
			lo = min(lo, keep)
			break
		}
	}
	for m, set := range x.minutes {
		if m < lo {
			x.ids -= set.ids.len()
			delete(x.minutes, m)
		}
	}
	x.lo = max(x.lo, lo)
}

// load reads from store every event stored from the window before sec on, and from then on
// covers those minutes. A first load sets the window from sec (the first event's time); later
// loads (after partitions were assigned) keep the covered range and learn what other consumers
// landed in it.
func (x *index) load(ctx context.Context, store LandedStore, sec int64, logger *slog.Logger) error {
	lo := x.lo
	if lo == math.MaxInt64 {
		lo = floorDiv(sec, 60) - x.window
	}
	start := time.Now()
	before := x.ids
	saved := x.lo
	x.lo = lo
	err := store.since(ctx, time.Unix(lo*60, 0), x.add)
	if err != nil {
		x.lo = saved // the minutes are not all known: keep what was covered
		return err
	}
	if x.newest == math.MinInt64 {
		x.newest = floorDiv(sec, 60)
	}
	logger.Info("landed-event index loaded", slog.Time("from", time.Unix(lo*60, 0).UTC()),
		slog.Int("ids", x.ids), slog.Int("new", x.ids-before), slog.Duration("took", time.Since(start)))
	return nil
}
