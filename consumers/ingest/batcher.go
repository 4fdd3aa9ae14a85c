package ingest

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// batch is what the writer lands in one go: the valid events as an Arrow
// record, the invalid ones as dead-letter messages, and the offsets to commit
// once both are written.
type batch struct {
	seq        int64             // its place in the writer's queue (sharedIndex.send)
	rec        arrow.RecordBatch // nil when no event is to be inserted
	dead       []kafka.Message
	commits    []kafka.Message // the highest message of each partition
	marks      []mark          // the same, with high watermarks and newest event times
	valid      int             // events inserted
	duplicates int             // valid events dropped: they had landed already
	lookups    int             // events looked up in ClickHouse
	bytes      int
	// redone are the minutes (lo, hi) of events redelivered after an assignment and found
	// landed already; lo > hi when none (see batcher.redelivering).
	redone [2]int64
	// The writer's progress (landGroup): dead letters written and given-up rows dropped
	// (prepared), rec inserted together with other batches (inserted, taking took), or that
	// insert failed and rec's rows may have landed (again).
	prepared, inserted, again bool
	took                      time.Duration
}

func (b *batch) release() {
	if b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
}

// fetched is a run of one fetch's messages for one batcher (in order within each partition)
// and a number of index loads started before they were fetched, after their partitions were
// assigned: a load started later (a larger count) saw everything landed before the partitions
// were assigned (see Pipeline.fetch).
type fetched struct {
	msgs  []kafka.Message
	loads int64
	// quiet, with no messages: Kafka has had nothing more for Config.QuietAfter, so the batch
	// being filled is cut now rather than at BatchAge.
	quiet bool
}

// lateEvent is a valid event older than the index covers, kept (owning its strings) until the
// batch is cut and ClickHouse says whether it landed already.
type lateEvent struct {
	ev        schemas.Event
	partition int32
	offset    int64
	// redelivered: its partition was being redelivered (batcher.redelivering) when it came, so
	// finding it landed widens the batch's redone minutes like an index hit does.
	redelivered bool
}

// batcher decodes messages into the Arrow appender, keeps copies of landed
// events out (the shared index) and cuts batches. It is a plain struct owned by
// one batcher goroutine, which gets the messages of its share of the
// partitions; only the index is shared (under its lock).
type batcher struct {
	cfg   *Config
	dec   *schemas.Decoder
	app   *schemas.Appender
	ev    schemas.Event
	dead  []kafka.Message
	topic string        // of the messages in this batch
	marks map[int]*mark // per partition in this batch: its highest message and newest valid event time
	n     int           // messages (valid and invalid)
	dups  int
	bytes int
	first time.Time // when the first message of this batch arrived
	now   time.Time // clock reading shared by a run of messages

	shared   *sharedIndex
	pending  pending       // minutes this batch added ids to
	store    LandedStore   // nil: no warehouse (unit tests), the index covers everything
	loads    *atomic.Int64 // loads started; shared with the fetcher
	stats    *Stats
	next     map[int]int64 // the offset expected next from each partition
	needLoad bool          // a partition was (re)assigned since the last load
	late     []lateEvent
	// redelivering holds the partitions (re)assigned whose messages have all been landed
	// events so far: the uncommitted tail of a previous owner. If that owner died during an
	// insert that the server did not finish either (both killed), the events may be stored and
	// their rollup rows not (18.16 writes the views' parts after the table's), and nobody
	// retried it: those minutes go to the copy sweep, which compares and repairs them.
	redelivering map[int]bool
	redone       [2]int64
}

func newBatcher(cfg *Config, mem memory.Allocator, shared *sharedIndex, loads *atomic.Int64, stats *Stats) *batcher {
	return &batcher{
		cfg:          cfg,
		dec:          schemas.NewDecoder(),
		app:          schemas.NewAppender(mem),
		marks:        make(map[int]*mark),
		shared:       shared,
		pending:      pending{},
		store:        cfg.Landed,
		loads:        loads,
		stats:        stats,
		next:         make(map[int]int64),
		needLoad:     cfg.Landed != nil,
		redelivering: map[int]bool{},
		redone:       noMinutes,
	}
}

// noMinutes is an empty range of minutes.
var noMinutes = [2]int64{math.MaxInt64, math.MinInt64}

// add decodes m, fetched after loads index loads had started (see fetched), into the current
// batch; it reports whether the batch is full and must be cut. It fails only when ctx ends
// while the index cannot be loaded.
func (b *batcher) add(ctx context.Context, m *kafka.Message, loads int64) (bool, error) {
	if b.n == 0 {
		b.first = time.Now()
		b.now = b.cfg.Now()
	}
	b.n++
	b.bytes += len(m.Value)
	b.topic = m.Topic
	mk := b.marks[m.Partition]
	if mk == nil {
		mk = &mark{partition: m.Partition, offset: -1}
		b.marks[m.Partition] = mk
	}
	if m.Offset > mk.offset {
		mk.offset, mk.hwm = m.Offset, m.HighWaterMark
	}
	// A partition seen for the first time, or not where it left off, was (re)assigned: other
	// consumers may have landed its events since the index last loaded.
	if next, ok := b.next[m.Partition]; (!ok || m.Offset != next) && b.store != nil {
		b.redelivering[m.Partition] = true
		if b.loads.Load() <= loads {
			b.needLoad = true
		}
	}
	b.next[m.Partition] = m.Offset + 1
	if b.n&1023 == 0 {
		b.now = b.cfg.Now() // the future-ts check needs a clock, not a precise one
	}
	err := b.dec.Decode(contentType(m.Headers), m.Value, &b.ev, b.now)
	if err == nil && len(m.Value) == 0 {
		err = &schemas.InvalidError{Reason: "empty value"}
	}
	if err != nil {
		b.dead = append(b.dead, deadLetter(m, err.Error()))
		return b.full(), nil
	}
	mk.maxEventMilli = max(mk.maxEventMilli, b.ev.TS)
	sec := floorDiv(b.ev.TS, 1000)
	s := b.shared
	s.mu.Lock()
	if b.needLoad {
		if err := b.load(ctx, sec); err != nil {
			s.mu.Unlock()
			return false, err
		}
	}
	v := s.idx.check(sec, b.ev.EventID, b.pending)
	if v == unknown && s.seenLate(b.ev.EventID) {
		v = duplicate
	}
	s.mu.Unlock()
	switch v {
	case fresh:
		b.app.Append(&b.ev, int32(m.Partition), m.Offset)
		delete(b.redelivering, m.Partition)
	case duplicate:
		b.dups++
		if b.redelivering[m.Partition] {
			mn := floorDiv(sec, 60)
			b.redone[0], b.redone[1] = min(b.redone[0], mn), max(b.redone[1], mn)
		}
	case unknown:
		b.late = append(b.late, lateEvent{ev: b.ev.Clone(), partition: int32(m.Partition), offset: m.Offset,
			redelivered: b.redelivering[m.Partition]})
	}
	return b.full(), nil
}

func (b *batcher) full() bool { return b.n >= b.cfg.BatchRows || b.bytes >= b.cfg.BatchBytes }

// load (re)loads the index from ClickHouse, retrying until it succeeds or ctx ends. The shared
// index's lock is held: the other batchers wait for the index to know what landed.
func (b *batcher) load(ctx context.Context, sec int64) error {
	b.loads.Add(1)
	err := retryUntil(ctx, b.cfg, "load the landed-event index", func(ctx context.Context) error {
		return b.shared.idx.load(ctx, b.store, sec, b.cfg.Logger)
	}, func() { b.stats.retries.Add(1) })
	if err != nil {
		return err
	}
	b.stats.Loads.Add(1)
	b.needLoad = false
	return nil
}

// resolveLate asks ClickHouse which late events landed already and appends the others.
func (b *batcher) resolveLate(ctx context.Context) (lookups int, err error) {
	if len(b.late) == 0 {
		return 0, nil
	}
	keys := make([]warehouse.EventKey, len(b.late))
	for i := range b.late {
		e := &b.late[i].ev
		keys[i] = warehouse.EventKey{Space: e.SpaceID, Second: floorDiv(e.TS, 1000), ID: e.EventID}
	}
	var stored []uuid.UUID
	err = retryUntil(ctx, b.cfg, "look up late events", func(ctx context.Context) error {
		var err error
		stored, err = b.store.stored(ctx, keys)
		return err
	}, func() { b.stats.retries.Add(1) })
	if err != nil {
		return 0, err
	}
	landed := make(map[uuid.UUID]struct{}, len(stored))
	for _, id := range stored {
		landed[id] = struct{}{}
	}
	for i := range b.late {
		l := &b.late[i]
		if _, ok := landed[l.ev.EventID]; ok {
			b.dups++
			if l.redelivered {
				mn := floorDiv(floorDiv(l.ev.TS, 1000), 60)
				b.redone[0], b.redone[1] = min(b.redone[0], mn), max(b.redone[1], mn)
			}
			continue
		}
		b.app.Append(&l.ev, l.partition, l.offset)
	}
	lookups = len(b.late)
	clear(b.late)
	b.late = b.late[:0]
	return lookups, nil
}

// due reports whether a non-empty batch has waited BatchAge.
func (b *batcher) due(now time.Time) bool {
	return b.n > 0 && now.Sub(b.first) >= b.cfg.BatchAge
}

// cut returns the current batch (nil when empty) and starts a new one. It
// fails only when ctx ends while late events cannot be looked up.
func (b *batcher) cut(ctx context.Context) (*batch, error) {
	if b.n == 0 {
		return nil, nil
	}
	lookups, err := b.resolveLate(ctx)
	if err != nil {
		return nil, err
	}
	out := &batch{dead: b.dead, valid: b.app.Len(), duplicates: b.dups, lookups: lookups, bytes: b.bytes, redone: b.redone}
	b.redone = noMinutes
	if b.app.Len() > 0 {
		out.rec = b.app.NewRecord()
	}
	for p, mk := range b.marks {
		out.commits = append(out.commits, kafka.Message{Topic: b.topic, Partition: p, Offset: mk.offset})
		out.marks = append(out.marks, *mk)
	}
	clear(b.marks)
	b.dead, b.n, b.bytes, b.dups = nil, 0, 0, 0
	return out, nil
}

func (b *batcher) release() { b.app.Release() }

// contentType returns the value of the content-type header, "" when absent.
// The two known values come back as constants, without allocating.
func contentType(hs []kafka.Header) string {
	for _, h := range hs {
		if !strings.EqualFold(h.Key, "content-type") {
			continue
		}
		switch string(h.Value) { // no allocation: the conversion is only compared
		case schemas.ContentTypeJSON:
			return schemas.ContentTypeJSON
		case schemas.ContentTypeProtobuf:
			return schemas.ContentTypeProtobuf
		}
		return string(h.Value)
	}
	return ""
}

// deadLetter builds the dead-letter message of schemas/README.md: the same key and
// value as received, the original headers, plus error, source-topic,
// source-partition and source-offset.
func deadLetter(m *kafka.Message, reason string) kafka.Message {
	hs := make([]kafka.Header, 0, len(m.Headers)+4)
	for _, h := range m.Headers {
		switch h.Key {
		case "error", "source-topic", "source-partition", "source-offset":
			continue // ours win over headers of an event re-sent from a DLQ
		}
		hs = append(hs, h)
	}
	hs = append(hs,
		kafka.Header{Key: "error", Value: []byte(reason)},
		kafka.Header{Key: "source-topic", Value: []byte(m.Topic)},
		kafka.Header{Key: "source-partition", Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kafka.Header{Key: "source-offset", Value: strconv.AppendInt(nil, m.Offset, 10)},
	)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: hs}
}
