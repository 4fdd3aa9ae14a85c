package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultPollRecords is the most messages one FetchMessages returns.
const DefaultPollRecords = 4096

// GroupReader is the consumer-group client the pipeline fetches from: franz-go's kgo client
// in a consumer group, with auto-commit off (offsets move only by CommitMessages, after the
// insert), from the earliest offset for a new group. It hands the pipeline kafka-go Messages,
// the type the batcher and the dead-letter writer share.
//
// It replaced kafka-go's Reader, which cost 1.85–1.94 µs of CPU a message against 0.56–0.72
// µs for kgo (BenchmarkKafkaClients): above the consumer's whole 1.5 µs budget by itself.
//
// Balancing: cooperative-sticky (a rebalance moves only the partitions that change owner; the
// others keep fetching), with range as a fallback, so a group whose members are still on the
// kafka-go consumer (range) agrees on eager range balancing instead of refusing the new member.
// kafka-go cannot read this member's metadata when it leads, so in such a group the kgo members
// take every partition and the kafka-go ones idle until stopped; nothing is lost
// (TestGroupReaderJoinsAKafkaGoGroup). A (re)assigned partition resumes from its committed offset; the
// batcher sees it is not where it left off and reloads the landed-event index.
//
// Revoked partitions: a member commits only the partitions it owns. When partitions are revoked
// (a member joined or left), the member first waits, up to GroupConfig.RevokeWait, for the batches
// it fetched from them to land and commit, then gives them up; kgo has stopped fetching them and
// dropped what it had buffered, and the other partitions keep fetching meanwhile
// (cooperative-sticky). A batch of a given-up partition that lands later (ClickHouse slow or down)
// is not committed: CommitMessages leaves its partition out, counts it (DroppedCommits) and logs
// it, so an old owner never moves the new owner's offset, backwards or forwards. The new owner reads
// from the last committed offset; what the old owner landed late is either in the index the new
// owner loaded (and dropped as a copy) or, if it landed after that load, inserted twice and
// repaired by the copy sweep (the bounded exception in the package doc). Lost partitions (the
// member was dropped from the group) are given up at once: their commits would fail anyway.
type GroupReader struct {
	cl         *kgo.Client
	logger     *slog.Logger
	revokeWait time.Duration

	assigned atomic.Int64 // partition assignments so far (Assignments)
	dropped  atomic.Int64 // partition commits left out because the partition was not owned
	closing  atomic.Bool  // Close was called: a revoke does not wait

	// commitMu is held for reading by CommitMessages from its ownership check to the broker's
	// answer, and for writing by a revoke while it gives partitions up, so that no commit of a
	// partition is sent after it was given up.
	commitMu sync.RWMutex

	mu        sync.Mutex
	committed *sync.Cond               // signalled (with mu) after each commit
	owned     map[topicPartition]bool  // partitions assigned and not revoked or lost
	fetched   map[topicPartition]int64 // per owned partition: the next offset after the last fetched message
	next      map[topicPartition]int64 // per owned partition: the offset committed last
}

var _ fetcher = (*GroupReader)(nil)

// NewGroupReader returns a GroupReader of group on topic with GroupConfig's defaults. extra
// options are appended to the defaults and override them (tests use them to scale the fetch
// sizes down).
func NewGroupReader(brokers []string, group, topic string, logger *slog.Logger, extra ...kgo.Opt) (*GroupReader, error) {
	return NewGroupReaderWith(brokers, group, topic, GroupConfig{}, logger, extra...)
}

// NewGroupReaderWith is NewGroupReader with the group's timeouts from gc (zero fields: defaults).
func NewGroupReaderWith(brokers []string, group, topic string, gc GroupConfig, logger *slog.Logger, extra ...kgo.Opt) (*GroupReader, error) {
	if err := gc.Validate(); err != nil {
		return nil, err
	}
	gc.setDefaults()
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()),
		kgo.DisableAutoCommit(), // CommitMessages only: offsets move after the insert
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250 * time.Millisecond),
		// Small fetches keep what the client holds (a fetch buffered, one in flight) well
		// inside the consumer's memory limit: with 16 MiB fetches the heap sat at the limit and
		// the collector took a third of the consumer's CPU (make bench).
		kgo.FetchMaxPartitionBytes(256 << 10),
		kgo.FetchMaxBytes(2 << 20),
		// Without fetch sessions kgo sends every partition in each request, starting from a
		// different one each time, so a fetch filled by one partition's large record batch does
		// not starve the others: kfake (the demo's and the bench's broker) answers a session's
		// partitions in one fixed order, and read one partition to its end before the next,
		// leaving events behind the landed-event index (518k of 2.7M looked up one by one at
		// demo scale 0.3). A real broker rotates a session's partitions; without sessions it
		// only reads a slightly larger request.
		kgo.DisableFetchSessions(),
		kgo.WithLogger(kgoLogger{logger}),
	}
	opts = append(opts, gc.options()...)
	r := newGroupReader(logger, gc.RevokeWait)
	opts = append(opts,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			r.own(ps)
			r.assigned.Add(1) // before the fetches of those partitions begin
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { r.revoke(ps, true) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { r.revoke(ps, false) }),
	)
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer group %s on %s: %w", group, topic, err)
	}
	r.cl = cl
	return r, nil
}

// newGroupReader returns a reader without a client, owning nothing.
func newGroupReader(logger *slog.Logger, revokeWait time.Duration) *GroupReader {
	r := &GroupReader{logger: logger, revokeWait: revokeWait, owned: map[topicPartition]bool{},
		fetched: map[topicPartition]int64{}, next: map[topicPartition]int64{}}
	r.committed = sync.NewCond(&r.mu)
	return r
}

// Assignments is how many times partitions were assigned to this reader; each is counted
// before the fetches of its partitions begin.
func (r *GroupReader) Assignments() int64 { return r.assigned.Load() }

// FetchMessages blocks until messages are fetched or ctx ends, and returns up to
// DefaultPollRecords of them, in order within each partition. It does not commit. The slice and
// the messages' bytes are the caller's. A fetch error the client retries by itself (a broker
// down, a leader moving) is logged and the call goes on with what did arrive.
func (r *GroupReader) FetchMessages(ctx context.Context) ([]kafka.Message, error) {
	backoff := 100 * time.Millisecond
	for {
		fs := r.cl.PollRecords(ctx, DefaultPollRecords)
		if fs.IsClientClosed() {
			return nil, errors.New("kafka client closed")
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		failed := false
		fs.EachError(func(topic string, partition int32, err error) {
			failed = true
			r.logger.Warn("kafka fetch failed; the client retries", slog.String("topic", topic),
				slog.Int("partition", int(partition)), slog.Any("err", err))
		})
		if n := fs.NumRecords(); n > 0 {
			return r.messages(fs, n), nil
		}
		if failed { // only errors: do not spin on one that comes back at once
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// messages converts the n records of fs, with one backing array for all their headers, and
// notes each partition's lag.
func (r *GroupReader) messages(fs kgo.Fetches, n int) []kafka.Message {
	out := make([]kafka.Message, 0, n)
	headers := 0
	fs.EachRecord(func(rec *kgo.Record) { headers += len(rec.Headers) })
	hs := make([]kafka.Header, 0, headers)
	r.mu.Lock()
	defer r.mu.Unlock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		for _, rec := range p.Records {
			start := len(hs)
			for _, h := range rec.Headers {
				hs = append(hs, kafka.Header{Key: h.Key, Value: h.Value})
			}
			out = append(out, kafka.Message{
				Topic: rec.Topic, Partition: int(rec.Partition), Offset: rec.Offset,
				HighWaterMark: p.HighWatermark, Key: rec.Key, Value: rec.Value,
				Headers: hs[start:len(hs):len(hs)], Time: rec.Timestamp,
			})
		}
		if len(p.Records) > 0 {
			last := p.Records[len(p.Records)-1]
			tp := topicPartition{p.Topic, p.Partition}
			if r.owned[tp] {
				r.fetched[tp] = max(r.fetched[tp], last.Offset+1)
			}
		}
	})
	return out
}

// CommitMessages commits, for each partition of msgs this reader owns, the offset after its
// highest message, and waits for the broker's answer: an error for any partition is an error.
// Partitions it does not own (revoked or lost since they were fetched) are left out, counted in
// DroppedCommits and logged: their new owner reads them again from the last committed offset.
func (r *GroupReader) CommitMessages(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	r.commitMu.RLock()
	defer r.commitMu.RUnlock()
	offsets := r.ownedOffsets(msgs)
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
					cerr = fmt.Errorf("partition %d of %s: %w", p.Partition, t.Topic, err)
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("commit offsets of %d partitions: %w", len(offsets), cerr)
	}
	r.mu.Lock()
	for topic, ps := range offsets {
		for p, o := range ps {
			tp := topicPartition{topic, p}
			if r.owned[tp] {
				r.next[tp] = max(r.next[tp], o.Offset)
			}
		}
	}
	r.committed.Broadcast()
	r.mu.Unlock()
	return nil
}

// Owns reports whether r owns topic's partition: assigned, and not revoked or lost since.
func (r *GroupReader) Owns(topic string, partition int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owned[topicPartition{topic, int32(partition)}]
}

// ownedOffsets is the offset to commit for each partition of msgs that r owns; the others are
// counted and logged.
func (r *GroupReader) ownedOffsets(msgs []kafka.Message) map[string]map[int32]kgo.EpochOffset {
	r.mu.Lock()
	defer r.mu.Unlock()
	offsets := map[string]map[int32]kgo.EpochOffset{}
	var dropped map[topicPartition]int64
	for _, m := range msgs {
		tp := topicPartition{m.Topic, int32(m.Partition)}
		if !r.owned[tp] {
			if dropped == nil {
				dropped = map[topicPartition]int64{}
			}
			dropped[tp] = max(dropped[tp], m.Offset+1)
			continue
		}
		ps := offsets[m.Topic]
		if ps == nil {
			ps = map[int32]kgo.EpochOffset{}
			offsets[m.Topic] = ps
		}
		if o, ok := ps[int32(m.Partition)]; !ok || m.Offset+1 > o.Offset {
			ps[int32(m.Partition)] = kgo.EpochOffset{Epoch: -1, Offset: m.Offset + 1}
		}
	}
	for tp, next := range dropped {
		r.dropped.Add(1)
		r.logger.Info("commit left out: the partition was revoked before its batch landed; its new owner reads it again",
			slog.String("topic", tp.topic), slog.Int("partition", int(tp.partition)), slog.Int64("offset", next))
	}
	return offsets
}

// DroppedCommits is how many partition commits were left out because the partition was no
// longer this reader's (see CommitMessages).
func (r *GroupReader) DroppedCommits() int64 { return r.dropped.Load() }

// Owned is how many partitions this reader owns now.
func (r *GroupReader) Owned() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.owned)
}

// own records partitions assigned to r.
func (r *GroupReader) own(ps map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, parts := range ps {
		for _, p := range parts {
			r.owned[topicPartition{topic, p}] = true
		}
	}
}

// revoke gives partitions up. When wait is set (a revoke, not a loss, and not while closing) it
// first waits, up to r.revokeWait, for every message fetched from them to be committed.
func (r *GroupReader) revoke(ps map[string][]int32, wait bool) {
	if wait && !r.closing.Load() && r.revokeWait > 0 {
		r.awaitCommits(ps, time.Now().Add(r.revokeWait))
	}
	r.commitMu.Lock() // no commit of these partitions is in flight from here on
	defer r.commitMu.Unlock()
	r.forget(ps)
}

// awaitCommits waits until every message fetched from ps so far is committed, or deadline.
func (r *GroupReader) awaitCommits(ps map[string][]int32, deadline time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[topicPartition]int64{}
	for topic, parts := range ps {
		for _, p := range parts {
			tp := topicPartition{topic, p}
			if f := r.fetched[tp]; f > r.next[tp] {
				want[tp] = f
			}
		}
	}
	if len(want) == 0 {
		return
	}
	t := time.AfterFunc(time.Until(deadline), func() {
		r.mu.Lock()
		r.committed.Broadcast()
		r.mu.Unlock()
	})
	defer t.Stop()
	start := time.Now()
	r.logger.Debug("waiting for the batches in flight of revoked partitions", slog.Int("partitions", len(want)))
	for {
		for tp, f := range want {
			if r.next[tp] >= f {
				delete(want, tp)
			}
		}
		if len(want) == 0 {
			r.logger.Info("revoked partitions committed their batches in flight", slog.Int("partitions", len(ps)),
				slog.Duration("waited", time.Since(start)))
			return
		}
		if !time.Now().Before(deadline) {
			r.logger.Warn("revoked partitions still have batches in flight; their commits will be left out",
				slog.Int("partitions", len(want)), slog.Duration("waited", time.Since(start)))
			return
		}
		r.committed.Wait()
	}
}

// forget drops what r knows of partitions no longer assigned to it: ownership, fetch and commit
// positions.
func (r *GroupReader) forget(ps map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, parts := range ps {
		for _, p := range parts {
			tp := topicPartition{topic, p}
			delete(r.owned, tp)
			delete(r.fetched, tp)
			delete(r.next, tp)
		}
	}
}

// Close leaves the group (giving its partitions up without waiting) and closes the client's
// connections.
func (r *GroupReader) Close() error {
	r.closing.Store(true)
	r.cl.Close()
	return nil
}

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int32
}

// kgoLogger adapts kgo's logger to slog: its debug to Debug, info (group joins, assignments)
// to Info, warnings and errors to Warn (the client retries them; the pipeline reports what it
// cannot do).
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	switch {
	case k.l.Enabled(context.Background(), slog.LevelDebug):
		return kgo.LogLevelDebug
	case k.l.Enabled(context.Background(), slog.LevelInfo):
		return kgo.LogLevelInfo
	default:
		return kgo.LogLevelWarn
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelWarn
	switch level {
	case kgo.LogLevelDebug:
		l = slog.LevelDebug
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	}
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}

// Ping returns nil once a broker answers (with this reader's TLS and SASL), or the error of
// the last broker tried.
func (r *GroupReader) Ping(ctx context.Context) error { return r.cl.Ping(ctx) }
