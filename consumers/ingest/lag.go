package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LagPoller reports the group's lag from the broker: every interval it asks for the end offset of
// each partition of the topic and the offset the group committed there, with a client of its own
// (no group, no fetches), so it keeps reporting while the pipeline is stopped by back-pressure (a
// ClickHouse outage), which is when the lag matters. The fetch's own lag (GroupReader.Lag) froze
// then. It reports the whole group's lag, the same on every member: dashboards take the max over
// the members, not the sum.
//
// Lag in messages: end offset − committed offset (a partition the group never committed: end −
// log start). Lag in seconds: the age of the oldest uncommitted message, as the time since the
// poller first saw the partition's end offset pass the committed offset. That needs no read of
// the messages, and is exact to one interval: the message existed at that poll and not at the one
// before. For a backlog already there when the poller started it is a lower bound, growing from
// zero at the start. It is Kafka time (when the message arrived), not event time; the ingest
// watermark (progress.go) is the event-time view.
//
// kgo's kmsg requests are used rather than kafka-go's client (the consumer is on kgo now, and its
// client routes ListOffsets to each partition's leader and OffsetFetch to the coordinator) or kadm
// (two requests do not earn a dependency).
type LagPoller struct {
	cl           *kgo.Client
	group, topic string
	interval     time.Duration
	logger       *slog.Logger
	now          func() time.Time

	mu      sync.Mutex
	parts   map[int32]*partitionLag
	lastOK  time.Time // the last poll that answered
	lastErr error     // the last poll's error (nil: it answered)
}

// partitionLag is what the poller knows of one partition.
type partitionLag struct {
	end, committed int64
	// seen are the end offsets the poller saw move past committed, each with when it first saw
	// it, oldest first; seen[0] is the first poll at which the oldest uncommitted message existed.
	seen []endSeen
}

type endSeen struct {
	end int64
	at  time.Time
}

// maxSeen bounds a partition's seen list; past it every second entry after the first is dropped
// (the age stays a bound, coarser).
const maxSeen = 512

// NewLagPoller returns a poller of group's lag on topic; Run polls. extra options carry the
// brokers' TLS and SASL (KafkaOpts).
func NewLagPoller(brokers []string, group, topic string, interval time.Duration, logger *slog.Logger, extra ...kgo.Opt) (*LagPoller, error) {
	if interval <= 0 {
		interval = DefaultLagInterval
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithLogger(kgoLogger{logger})}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for the lag of group %s: %w", group, err)
	}
	return &LagPoller{cl: cl, group: group, topic: topic, interval: interval, logger: logger, now: time.Now,
		parts: map[int32]*partitionLag{}}, nil
}

// Run polls every interval until ctx ends, then closes the client.
func (l *LagPoller) Run(ctx context.Context) {
	defer l.cl.Close()
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		l.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Poll asks the broker once, bounded by the interval, and records the answer or the error.
func (l *LagPoller) Poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, max(l.interval, time.Second))
	defer cancel()
	ends, committed, err := l.offsets(pctx)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		if l.lastErr == nil { // once per outage, not every poll
			l.logger.Warn("cannot read the consumer group's lag from kafka; the lag ages go on rising", slog.Any("err", err))
		}
		l.lastErr = err
		return
	}
	if l.lastErr != nil {
		l.logger.Info("the consumer group's lag is read from kafka again")
	}
	l.lastErr, l.lastOK = nil, now
	for p, end := range ends {
		pl := l.parts[p]
		if pl == nil {
			pl = &partitionLag{}
			l.parts[p] = pl
		}
		pl.observe(end, committed[p], now)
	}
}

// observe records a poll's end and committed offsets.
func (pl *partitionLag) observe(end, committed int64, now time.Time) {
	pl.end, pl.committed = end, committed
	if n := len(pl.seen); n == 0 || end > pl.seen[n-1].end {
		pl.seen = append(pl.seen, endSeen{end, now})
	}
	drop := 0
	for drop < len(pl.seen) && pl.seen[drop].end <= committed {
		drop++
	}
	pl.seen = pl.seen[drop:]
	if len(pl.seen) > maxSeen {
		kept := pl.seen[:1]
		for i := 2; i < len(pl.seen); i += 2 {
			kept = append(kept, pl.seen[i])
		}
		pl.seen = kept
	}
}

// age is the time since the oldest uncommitted message was first seen (0: none).
func (pl *partitionLag) age(now time.Time) time.Duration {
	if pl.committed >= pl.end || len(pl.seen) == 0 {
		return 0
	}
	return now.Sub(pl.seen[0].at)
}

// offsets reads every partition's end offset and the group's committed offset (the log start
// where the group has none).
func (l *LagPoller) offsets(ctx context.Context) (ends, committed map[int32]int64, err error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(l.topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, l.cl)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", l.topic, err)
	}
	var partitions []int32
	for _, t := range mresp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, nil, fmt.Errorf("metadata of %s: %w", l.topic, err)
		}
		for _, p := range t.Partitions {
			partitions = append(partitions, p.Partition)
		}
	}
	if len(partitions) == 0 {
		return nil, nil, fmt.Errorf("topic %s has no partitions", l.topic)
	}
	if ends, err = l.listOffsets(ctx, partitions, -1); err != nil {
		return nil, nil, err
	}
	starts, err := l.listOffsets(ctx, partitions, -2)
	if err != nil {
		return nil, nil, err
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = l.group
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = l.topic, partitions
	fetch.Topics = append(fetch.Topics, ft)
	fresp, err := fetch.RequestWith(ctx, l.cl)
	if err == nil {
		err = kerr.ErrorForCode(fresp.ErrorCode)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("committed offsets of group %s: %w", l.group, err)
	}
	committed = make(map[int32]int64, len(partitions))
	for p, s := range starts {
		committed[p] = s
	}
	for _, t := range fresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, nil, fmt.Errorf("committed offset of partition %d of %s: %w", p.Partition, t.Topic, err)
			}
			if p.Offset >= 0 {
				committed[p.Partition] = max(p.Offset, starts[p.Partition])
			}
		}
	}
	return ends, committed, nil
}

// listOffsets asks each partition's leader for the offset at timestamp ts (-1: end, -2: start).
func (l *LagPoller) listOffsets(ctx context.Context, partitions []int32, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = l.topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	out := make(map[int32]int64, len(partitions))
	var errs []error
	for _, shard := range l.cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, shard.Err)
			continue
		}
		for _, t := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, err))
					continue
				}
				out[p.Partition] = p.Offset
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", l.topic, err)
	}
	return out, nil
}

// PartitionLag is one partition's lag at the last poll that answered.
type PartitionLag struct {
	Partition int32
	Messages  int64
	Age       time.Duration // the oldest uncommitted message's age (see LagPoller)
}

// Partitions is every partition's lag, by partition, as of the last poll that answered; the ages
// go on growing while polls fail.
func (l *LagPoller) Partitions() []PartitionLag {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]PartitionLag, 0, len(l.parts))
	for p, pl := range l.parts {
		out = append(out, PartitionLag{Partition: p, Messages: max(pl.end-pl.committed, 0), Age: pl.age(now)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Lag is the group's lag in messages, summed over the partitions.
func (l *LagPoller) Lag() int64 {
	var n int64
	for _, p := range l.Partitions() {
		n += p.Messages
	}
	return n
}

// MaxAge is the largest partition's lag age: how long the oldest uncommitted message has waited.
func (l *LagPoller) MaxAge() time.Duration {
	var a time.Duration
	for _, p := range l.Partitions() {
		a = max(a, p.Age)
	}
	return a
}

// Answered is when the broker last answered a poll (zero: never) and the last poll's error.
func (l *LagPoller) Answered() (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK, l.lastErr
}
