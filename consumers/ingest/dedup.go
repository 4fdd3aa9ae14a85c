package ingest

import (
	"context"
	"log/slog"
	"math"
	"sync"
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
// only once every batch that added to it has landed: no batch being filled holds one of its ids
// (pending) and the last one sent has landed (landed >= its seq); until then a lookup in
// ClickHouse could not find its events yet. Not safe for concurrent use: the batchers share it
// through a sharedIndex.
type index struct {
	window  int64 // minutes covered before the newest one
	maxIDs  int
	minutes map[int64]*minuteSet
	ids     int
	lo      int64 // first minute covered; math.MaxInt64 until the first load
	newest  int64 // newest minute seen (never ahead of the wall clock by more than a minute)
	now     func() time.Time
	landed  *atomic.Int64 // sequence number of the last batch landed (the writer's)
}

type minuteSet struct {
	ids     minuteIDs
	seq     int64 // the last batch sent that added an id of this consumer's
	pending int32 // batches being filled that added ids to it
}

// pending is the minutes a batch being filled has added ids to: each is counted in its set's
// pending until the batch is sent (index.sent).
type pending map[int64]struct{}

func newIndex(window time.Duration, maxIDs int, now func() time.Time, landed *atomic.Int64) *index {
	return &index{
		window:  max(int64(window/time.Minute), 1),
		maxIDs:  maxIDs,
		minutes: map[int64]*minuteSet{},
		lo:      math.MaxInt64,
		newest:  math.MinInt64,
		now:     now,
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

// check classifies the event id at unix second sec, adding a fresh one to the batch being
// filled, p.
func (x *index) check(sec int64, id uuid.UUID, p pending) verdict {
	m := floorDiv(sec, 60)
	if m < x.lo {
		return unknown
	}
	set := x.minute(m)
	if !set.ids.add(sec, id) {
		return duplicate
	}
	if _, ok := p[m]; !ok {
		p[m] = struct{}{}
		set.pending++
	}
	x.ids++
	if m > x.newest {
		x.advance(m)
	} else if x.ids > x.maxIDs {
		x.evict(x.lo + 1)
	}
	return fresh
}

// sent records that the batch whose minutes are p was sent to the writer as seq: once the
// writer has landed it, its minutes may be given up. p is cleared for the next batch.
func (x *index) sent(p pending, seq int64) {
	for m := range p {
		if set := x.minutes[m]; set != nil { // kept while pending: always there
			set.pending--
			set.seq = max(set.seq, seq)
		}
	}
	clear(p)
}

// add records an id known to be landed (loaded from ClickHouse, or looked up and found new).
func (x *index) add(sec int64, id uuid.UUID) {
	m := floorDiv(sec, 60)
	if m < x.lo {
		return
	}
	if x.minute(m).ids.add(sec, id) {
		x.ids++
	}
}

// forget takes the id at unix second sec out of the index: an event ClickHouse refused (sent to
// the dead-letter topic instead) must not be taken for landed, so that a copy of it is checked,
// and refused, again.
func (x *index) forget(sec int64, id uuid.UUID) {
	if set := x.minutes[floorDiv(sec, 60)]; set != nil && set.ids.remove(sec, id) {
		x.ids--
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
// flight (being filled, queued or being written) added to; lo becomes the first minute kept.
func (x *index) evict(lo int64) {
	if lo <= x.lo {
		return
	}
	landed := x.landed.Load()
	inFlight := func(s *minuteSet) bool { return s.pending > 0 || s.seq > landed }
	for _, set := range x.minutes {
		if inFlight(set) {
			keep := int64(math.MaxInt64)
			for m, s := range x.minutes {
				if inFlight(s) {
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

// sharedIndex is the one landed-event index of a pipeline, shared by its batchers (one per
// decoder; each owns a share of the partitions), with the late events they hold or landed
// recently. A copy can come through any partition, so every batcher checks the same index, under
// mu. sendMu orders the batches sent to the writer: a batch's seq is taken and the batch queued
// under it, so the writer lands them in seq order and "landed >= seq" means every batch up to seq
// landed.
type sharedIndex struct {
	mu       sync.Mutex
	idx      *index
	lateSeen [2]map[uuid.UUID]struct{} // two generations, see seenLate
	lateCap  int

	sendMu sync.Mutex
	seq    int64 // of the last batch sent; under sendMu and mu
}

func newSharedIndex(cfg *Config, landed *atomic.Int64) *sharedIndex {
	s := &sharedIndex{
		idx:      newIndex(cfg.DedupWindow, cfg.DedupMaxIDs, cfg.Now, landed),
		lateSeen: [2]map[uuid.UUID]struct{}{{}, {}},
		// An id leaves the generations only after its batch landed, when a lookup finds it: the
		// rows in flight are at most a batch being filled per decoder, QueueDepth queued and one
		// insert of up to InsertRows (see Pipeline.write).
		lateCap: max(500_000, (max(cfg.Decoders, 1)+cfg.QueueDepth)*cfg.BatchRows+max(cfg.InsertRows, cfg.BatchRows)),
	}
	if cfg.Landed == nil {
		s.idx.coverAll()
	}
	return s
}

// seenLate reports whether a late event id is held or was landed recently by this consumer,
// and records it. s.mu is held.
func (s *sharedIndex) seenLate(id uuid.UUID) bool {
	if _, ok := s.lateSeen[0][id]; ok {
		return true
	}
	if _, ok := s.lateSeen[1][id]; ok {
		return true
	}
	if len(s.lateSeen[0]) >= s.lateCap {
		s.lateSeen[1], s.lateSeen[0] = s.lateSeen[0], map[uuid.UUID]struct{}{}
	}
	s.lateSeen[0][id] = struct{}{}
	return false
}

// forget takes the refused events (ids and unix seconds) out of the index and of the late
// events seen (see index.forget).
func (s *sharedIndex) forget(secs []int64, ids []uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range ids {
		s.idx.forget(secs[i], id)
		delete(s.lateSeen[0], id)
		delete(s.lateSeen[1], id)
	}
}

// send queues bt (cut by a batcher whose minutes are p) for the writer as the next batch in
// sequence. It blocks while out is full (back-pressure), holding only sendMu.
func (s *sharedIndex) send(ctx context.Context, bt *batch, p pending, out chan<- *batch) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	s.seq++
	bt.seq = s.seq
	s.idx.sent(p, bt.seq)
	s.mu.Unlock()
	select {
	case out <- bt:
		return nil
	case <-ctx.Done():
		bt.release()
		return ctx.Err()
	}
}
