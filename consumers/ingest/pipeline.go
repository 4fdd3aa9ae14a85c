package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// fetcher is the part of a consumer-group client the pipeline uses (GroupReader).
// FetchMessages blocks until it has messages (in order within each partition; the slice is
// the caller's) and does not commit; CommitMessages commits, for each partition of msgs, the
// offset after its highest message, once the write is done; Assignments is how many times
// partitions were assigned to it, counted before the fetches of those partitions begin.
type fetcher interface {
	FetchMessages(ctx context.Context) ([]kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
	Assignments() int64
	// Owns reports whether this member still owns the partition (see givenup.go).
	Owns(topic string, partition int) bool
}

// fetchedRuns is how many runs of fetched messages wait for each batcher (see fetch).
const fetchedRuns = 8

// blockWriter lands one Arrow record batch in the store. again is true when
// an earlier call for rec failed: some of its rows may have landed then (a
// connection lost after the server took the block), and must not land twice.
type blockWriter interface {
	WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error
}

var _ blockWriter = (*Sink)(nil)

// groupWriter is a blockWriter that can also land several records in one insert (see
// Sink.WriteBlocks), when Groups says so.
type groupWriter interface {
	blockWriter
	Groups() bool
	WriteBlocks(ctx context.Context, recs []arrow.RecordBatch) error
}

var _ groupWriter = (*Sink)(nil)

// messageWriter writes dead letters; a kafka-go Writer with acks=all.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

var _ messageWriter = (*kafka.Writer)(nil)

// Pipeline consumes, batches, writes and commits; see the package doc.
type Pipeline struct {
	loads  atomic.Int64 // landed-event index loads started (see fetched)
	landed atomic.Int64 // seq of the last batch landed (see index)
	// handed and committed count messages given to the batchers and committed; drainExpired is
	// set when the drain ran out of DrainTimeout (see Run).
	handed, committed atomic.Int64
	drainExpired      atomic.Bool
	cfg               Config
	src               fetcher
	store             blockWriter
	dlq               messageWriter
	mem               memory.Allocator
	stats             *Stats
	shared            *sharedIndex // the landed-event index, set by Run (refused events are taken out)
	progress          progress     // committed state per partition, reported when cfg.Progress is set
	sweep             sweep        // minutes landed, swept for other members' copies when cfg.Sweep is set
}

// New returns a pipeline reading src (a consumer-group Reader), inserting
// into store and writing invalid events to dlq (a Writer for
// cfg.DLQTopic). cfg is copied and defaulted.
func New(cfg Config, src fetcher, store blockWriter, dlq messageWriter) *Pipeline {
	cfg.setDefaults()
	stats := cfg.Stats
	if stats == nil {
		stats = &Stats{}
	}
	return &Pipeline{cfg: cfg, src: src, store: store, dlq: dlq, mem: memory.DefaultAllocator, stats: stats}
}

// Stats returns the pipeline's counters; safe to read while it runs.
func (p *Pipeline) Stats() *Stats { return p.stats }

// ErrDrainIncomplete is matched (errors.Is) by Run's error when the drain ran out of
// Config.DrainTimeout with fetched messages left uncommitted (the next owner of their partitions
// reads them again; the landed-event index keeps the ones that landed from landing twice).
var ErrDrainIncomplete = errors.New("drain incomplete")

// Run consumes until ctx is cancelled, then drains: the batch in hand and
// the queued ones are written and committed on a context detached from ctx
// and bounded by Config.DrainTimeout. It returns nil after a clean drain, and an error matching
// ErrDrainIncomplete, saying how many fetched messages were left uncommitted, when the drain gave
// up. It returns at most DrainTimeout plus finalReportTimeout after ctx is cancelled.
func (p *Pipeline) Run(ctx context.Context) error {
	// One batcher per decoder, each fed the messages of its share of the partitions (partition
	// modulo Decoders, so each partition's messages stay in order) in chunks of one fetch, all
	// checking one index and queueing their batches, in sequence, for the one writer.
	msgs := make([]chan fetched, p.cfg.Decoders)
	for i := range msgs {
		msgs[i] = make(chan fetched, fetchedRuns)
	}
	batches := make(chan *batch, p.cfg.QueueDepth)
	shared := newSharedIndex(&p.cfg, &p.landed)
	p.shared = shared
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.fetch(gctx, msgs) })
	var batchers errgroup.Group
	for i := range msgs {
		batchers.Go(func() error { return p.batch(drainCtx, shared, msgs[i], batches) })
	}
	g.Go(func() error {
		defer close(batches)
		return batchers.Wait()
	})
	g.Go(func() error {
		// Once ctx is done the writer gets DrainTimeout more to land what is queued.
		stop := context.AfterFunc(gctx, func() {
			t := time.AfterFunc(p.cfg.DrainTimeout, func() { p.drainExpired.Store(true); cancelDrain() })
			context.AfterFunc(drainCtx, func() { t.Stop() })
		})
		defer stop()
		return p.write(drainCtx, batches)
	})
	if p.cfg.Progress != nil {
		g.Go(func() error { p.reportLoop(gctx); return nil })
	}
	if p.cfg.Sweep != nil {
		g.Go(func() error { p.sweepLoop(gctx); return nil })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	if left := p.handed.Load() - p.committed.Load(); p.drainExpired.Load() && left > 0 {
		// The writer's own error (often the context it was cancelled with) would read as a clean stop.
		cause := "nothing failed"
		if err != nil {
			cause = err.Error()
		}
		err = fmt.Errorf("drain gave up after %s with %d fetched messages uncommitted (the next owner of their partitions reads them again; raise DrainTimeout, or make ClickHouse and Kafka answer): last error: %s: %w",
			p.cfg.DrainTimeout, left, cause, ErrDrainIncomplete)
	}
	if p.cfg.Progress != nil {
		// A clean stop has committed everything it fetched: say so, so that the partitions it
		// leaves caught up do not hold the watermark back as a killed consumer's would.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalReportTimeout)
		if rerr := p.report(rctx, err == nil); rerr != nil {
			p.cfg.Logger.Warn("cannot record the final ingest progress", slog.Any("err", rerr))
		}
		cancel()
	}
	return err
}

// finalReportTimeout bounds the last progress record written after the drain (see Run).
const finalReportTimeout = 3 * time.Second

// fetch hands the fetched messages to the batchers (outs, by partition modulo their number) in
// runs, until ctx is done, then closes them. The channels hold fetchedRuns runs each, a run at
// most one fetch (DefaultPollRecords messages).
func (p *Pipeline) fetch(ctx context.Context, outs []chan fetched) error {
	defer func() {
		for _, out := range outs {
			close(out)
		}
	}()
	// Each message carries the index loads started before the first fetch after the latest
	// assignment, a moment after its partition was assigned. Taking them at each fetch instead
	// would make a batcher reload the index for every partition it first sees in a later fetch
	// (a client fetches partitions gradually), reading everything landed since the start again.
	assignments, loads := int64(-1), int64(0)
	quiet := false // the batchers were told Kafka is quiet, and nothing came since
	for {
		// A fetch that waits QuietAfter for nothing says the topic is quiet: the batchers cut
		// what they hold (a cancelled poll takes no message: they stay buffered in the client).
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if p.cfg.QuietAfter > 0 {
			fctx, cancel = context.WithTimeout(ctx, p.cfg.QuietAfter)
		}
		ms, err := p.src.FetchMessages(fctx)
		waited := fctx.Err() != nil
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopping: the batchers drain what was fetched
			}
			if waited && errors.Is(err, context.DeadlineExceeded) {
				if !quiet {
					for _, out := range outs {
						select {
						case out <- fetched{quiet: true}:
						case <-ctx.Done():
							return nil
						}
					}
					quiet = true
				}
				continue
			}
			return fmt.Errorf("fetch from kafka: %w", err)
		}
		quiet = false
		if a := p.src.Assignments(); a != assignments {
			assignments, loads = a, p.loads.Load()
		}
		// Runs of messages for one batcher go as they are (a client returns a partition's
		// messages together), without copying.
		for len(ms) > 0 {
			k := ms[0].Partition % len(outs)
			n := 1
			for n < len(ms) && ms[n].Partition%len(outs) == k {
				n++
			}
			select {
			case outs[k] <- fetched{msgs: ms[:n:n], loads: loads}:
				p.handed.Add(int64(n))
				ms = ms[n:]
			case <-ctx.Done():
				return nil // not committed: fetched again
			}
		}
	}
}

// batch turns messages into batches until in is closed, then cuts the last
// one. It blocks on out (back-pressure) and on ClickHouse only to load the
// landed-event index or look up late events, retrying those until ctx (the
// drain context) ends.
func (p *Pipeline) batch(ctx context.Context, shared *sharedIndex, in <-chan fetched, out chan<- *batch) error {
	b := newBatcher(&p.cfg, p.mem, shared, &p.loads, p.stats)
	defer b.release()
	tick := time.NewTicker(max(p.cfg.BatchAge/4, 5*time.Millisecond))
	defer tick.Stop()
	send := func() error {
		bt, err := b.cut(ctx)
		if err != nil || bt == nil {
			return err
		}
		p.progress.fetched(bt.marks)
		return shared.send(ctx, bt, b.pending, out)
	}
	for {
		select {
		case f, ok := <-in:
			if !ok {
				return send()
			}
			if f.quiet {
				if err := send(); err != nil { // nothing more is coming for now
					return err
				}
				continue
			}
			for i := range f.msgs {
				full, err := b.add(ctx, &f.msgs[i], f.loads)
				if err != nil {
					return err
				}
				if full {
					if err := send(); err != nil {
						return err
					}
				}
			}
		case now := <-tick.C:
			if b.due(now) {
				if err := send(); err != nil {
					return err
				}
			}
		}
	}
}

// write lands each batch: dead letters, then the insert, then the commit.
// Each step is retried until it succeeds or ctx (the drain context) ends. The batches already
// queued when the writer takes one are landed with it, up to Config.InsertRows rows in one insert
// (landGroup).
func (p *Pipeline) write(ctx context.Context, in <-chan *batch) error {
	log := p.cfg.Logger
	gw, grouping := p.store.(groupWriter)
	grouping = grouping && gw.Groups()
	var group []*batch
	for bt := range in {
		group = append(group[:0], bt)
		rows := bt.valid
	take:
		for grouping && rows+p.cfg.BatchRows <= p.cfg.InsertRows { // a batch has at most BatchRows
			select {
			case next, ok := <-in:
				if !ok {
					break take
				}
				group = append(group, next)
				rows += next.valid
			default:
				break take
			}
		}
		err := p.landGroup(ctx, gw, group)
		for _, bt := range group {
			bt.release()
		}
		if err != nil {
			for rest := range in { // release what will not be written
				rest.release()
			}
			return err
		}
	}
	log.Debug("writer drained")
	return nil
}

// landGroup lands the batches of group, in order, as land does one, with their records in one
// insert (groupWriter.WriteBlocks): first the dead letters of all and the rows of partitions given
// up, then the one insert, then each batch's commit. When that insert fails, each batch is
// inserted on its own as after a failed attempt (its rows may have landed), with land's retries,
// refusal splitting and reconciliation.
func (p *Pipeline) landGroup(ctx context.Context, gw groupWriter, group []*batch) error {
	if len(group) == 1 {
		return p.land(ctx, group[0])
	}
	var recs []arrow.RecordBatch
	for _, bt := range group {
		if err := p.prepare(ctx, bt); err != nil {
			return err
		}
		if bt.rec != nil {
			recs = append(recs, bt.rec)
		}
	}
	if len(recs) > 0 {
		start := time.Now()
		err := gw.WriteBlocks(ctx, recs)
		for _, bt := range group {
			if bt.rec != nil {
				bt.inserted, bt.again = err == nil, err != nil
				bt.took = time.Since(start) / time.Duration(len(recs)) // each its share
			}
		}
		if err != nil {
			p.stats.retries.Add(1)
			p.cfg.Logger.Warn("insert of batches together failed: inserting each on its own",
				slog.Int("batches", len(group)), slog.Int("records", len(recs)), slog.Any("err", err))
		}
	}
	for _, bt := range group {
		if err := p.land(ctx, bt); err != nil {
			return err
		}
	}
	return nil
}

// prepare writes bt's dead letters and drops the rows of partitions given up, once.
func (p *Pipeline) prepare(ctx context.Context, bt *batch) error {
	if bt.prepared {
		return nil
	}
	if len(bt.dead) > 0 {
		if err := p.writeDead(ctx, bt.dead); err != nil {
			return err
		}
	}
	p.leaveGivenUp(bt)
	bt.prepared = true
	return nil
}

func (p *Pipeline) land(ctx context.Context, bt *batch) error {
	start := time.Now().Add(-bt.took) // its share of an insert together with other batches (landGroup)
	if err := p.prepare(ctx, bt); err != nil {
		return err
	}
	if bt.rec != nil && !bt.inserted {
		refused, err := p.landOwned(ctx, bt)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			// The rows ClickHouse refuses go to the dead-letter topic like invalid events, after
			// the others landed and before the commit.
			letters, err := p.refusedLetters(ctx, bt.rec, refused)
			if err != nil {
				return err
			}
			if err := p.writeDead(ctx, letters); err != nil {
				return err
			}
			p.forgetRefused(bt.rec, refused)
			bt.valid -= len(refused)
			bt.dead = append(bt.dead, letters...)
			p.cfg.Logger.Warn("events refused by clickhouse sent to the dead-letter topic",
				slog.Int("events", len(refused)), slog.Int("landed", bt.valid), slog.String("reason", refused[0].reason))
		}
	}
	insertDone := time.Now()
	p.landed.Store(bt.seq) // its events can be found in ClickHouse from now on
	if p.cfg.Sweep != nil {
		if bt.rec != nil {
			p.sweep.add(bt.rec)
		}
		if bt.redone[0] <= bt.redone[1] {
			// Redelivered events found landed: the insert that landed them may have died
			// before its views' parts were written (see batcher.redelivering).
			p.sweep.force(bt.redone[0], bt.redone[1])
		}
	}
	if err := p.retry(ctx, "commit offsets", func(ctx context.Context) error {
		return p.src.CommitMessages(ctx, bt.commits...)
	}); err != nil {
		return err
	}
	p.progress.committed(bt.marks)
	p.committed.Add(int64(bt.valid + len(bt.dead) + bt.duplicates))
	p.stats.add(bt, insertDone.Sub(start))
	p.cfg.Logger.Debug("batch landed", slog.Int("valid", bt.valid), slog.Int("invalid", len(bt.dead)),
		slog.Int("duplicates", bt.duplicates),
		slog.Duration("took", time.Since(start)))
	return nil
}

// retry calls f until it succeeds, counting each failed attempt in the
// pipeline's stats; see retryUntil.
func (p *Pipeline) retry(ctx context.Context, what string, f func(context.Context) error) error {
	if err := retryUntil(ctx, &p.cfg, what, f, func() { p.stats.retries.Add(1) }); err != nil {
		return fmt.Errorf("%w (the batch is left uncommitted, to be fetched again)", err)
	}
	return nil
}

// retryUntil calls f until it succeeds, backing off from cfg.RetryMin to
// cfg.RetryMax and calling failed after each failure. It gives up when ctx ends,
// returning an error that says what was left, and at once on an endpoint.ErrRefused
// error (a certificate, a password: settings a retry cannot cure), returned as it is.
func retryUntil(ctx context.Context, cfg *Config, what string, f func(context.Context) error, failed func()) error {
	delay := cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil {
			if attempt > 1 {
				cfg.Logger.Info("recovered", slog.String("step", what), slog.Int("attempts", attempt))
			}
			return nil
		}
		if errors.Is(err, endpoint.ErrRefused) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: stopped before it succeeded: %w", what, err)
		}
		failed()
		cfg.Logger.Warn("retrying", slog.String("step", what), slog.Int("attempt", attempt),
			slog.Duration("backoff", delay), slog.Any("err", err))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("%s: stopped before it succeeded: %w", what, err)
		}
		delay = min(delay*2, cfg.RetryMax)
	}
}
