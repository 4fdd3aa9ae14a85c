package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Config says where to read, where to put invalid events and how to batch.
// The zero value of a field means its default.
type Config struct {
	// Topic is the Kafka topic read (default "spaces.events").
	Topic string
	// DLQTopic receives invalid events (default "spaces.events.dlq").
	DLQTopic string

	// BatchRows cuts a batch at this many events (default 50,000: with a batch
	// filling per decoder, QueueDepth queued and an insert of InsertRows being
	// written, the consumer stays under 300 MB RSS in `make bench`, where
	// 100,000-row batches cost the consumer 0.27 µs an event more, its
	// collector working near the memory limit).
	BatchRows int
	// BatchBytes cuts a batch when its Kafka values reach this size
	// (default 64 MiB).
	BatchBytes int
	// BatchAge cuts a non-empty batch this long after its first event
	// (default 1s), so a quiet topic still lands promptly.
	BatchAge time.Duration
	// QuietAfter cuts the batches being filled when Kafka has had nothing more for this long
	// (default DefaultQuietAfter): the end of a burst or of a replay lands at once instead of
	// after BatchAge, while a steady stream, however slow, still fills batches up to BatchAge.
	// Below about one message a QuietAfter, each message can be an insert of its own (at most
	// one insert a QuietAfter per decoder, fewer with the writer's grouping). Negative: off,
	// batches are cut on rows, bytes and age only.
	QuietAfter time.Duration
	// QueueDepth is how many cut batches may wait for the writer (default 3). The writer takes
	// those waiting into its next insert (InsertRows), so a deeper queue makes fewer, larger
	// parts: make bench did 389k-429k events/s with ClickHouse at 2.31-2.55 µs an event with 2,
	// 463k-469k at 1.97 µs with 3, its RSS 279-284 MB.
	QueueDepth int
	// InsertRows bounds the rows the writer lands in one insert: the batches already queued when
	// it takes one go into the same insert up to this many rows (default 200,000; BatchRows or
	// less: one batch an insert). ClickHouse squashes them into one part (see Sink.WriteBlocks).
	InsertRows int
	// Decoders is how many batchers decode, validate and check messages in parallel, each for
	// its share of the partitions (partition modulo Decoders), each cutting its own batches of
	// up to BatchRows (default: GOMAXPROCS, at most 4; 1 to 64).
	Decoders int

	// RetryMin and RetryMax bound the backoff between attempts of a failed
	// insert, dead-letter write or commit (defaults 100ms and 10s).
	RetryMin, RetryMax time.Duration
	// DrainTimeout bounds the final flush and commit on shutdown (default DefaultDrainTimeout,
	// 15s: with the last progress record, leaving the group and stopping the metrics server,
	// RunConsumer returns within 25s of the stop signal, inside Kubernetes' 30s grace period).
	DrainTimeout time.Duration

	// Landed is the warehouse the landed-event index loads from and looks late events up in
	// (LandedFrom). Nil means no warehouse: the index alone keeps copies out (unit tests).
	Landed LandedStore
	// DedupWindow is how much event time before the newest event the index holds in memory
	// (default DefaultDedupWindow); older events are looked up in ClickHouse.
	DedupWindow time.Duration
	// DedupMaxIDs bounds the index's ids (default DefaultDedupMaxIDs, ~30 bytes each).
	DedupMaxIDs int

	// Originals, when set, reads back from Kafka the original message of an event ClickHouse
	// refuses, for its dead letter (OriginalsFrom; RunConsumer sets it). Nil: the dead letter
	// holds the event re-encoded as JSON (see ReencodedHeader).
	Originals Originals

	// Progress, when set, receives what the pipeline has committed and a heartbeat every
	// ProgressInterval (default DefaultProgressInterval), for the ingest watermark the alert
	// reads (ProgressTo); Group and ConsumerID name this consumer in those records (ConsumerID
	// defaults to NewConsumerID()). Nil: nothing is recorded.
	Progress         ProgressStore
	ProgressInterval time.Duration
	Group            string
	ConsumerID       string

	// Sweep, when set, is where the copy sweep (sweep.go) compares and repairs the rollups of
	// the minutes this consumer landed, every SweepInterval (default DefaultSweepInterval), while
	// another member of Group is alive by its heartbeat (so it needs Progress too). Nil: no sweep.
	Sweep         SweepStore
	SweepInterval time.Duration

	// Now is the clock used to reject events too far in the future
	// (default time.Now).
	Now func() time.Time
	// Logger receives the pipeline's logs (default slog.Default()).
	Logger *slog.Logger
	// Stats, when set, receives the pipeline's counters (default: a new one,
	// returned by Pipeline.Stats).
	Stats *Stats
}

// Defaults of Config.
const (
	DefaultTopic      = "spaces.events"
	DefaultDLQTopic   = "spaces.events.dlq"
	DefaultBatchRows  = 50_000
	DefaultInsertRows = 200_000
	DefaultBatchBytes = 64 << 20
	DefaultBatchAge   = time.Second
	// DefaultQuietAfter is QuietAfter's default: the kgo consumer's fetch max wait, the time a
	// broker holds a fetch that found nothing.
	DefaultQuietAfter = 250 * time.Millisecond
	// DefaultDrainTimeout is DrainTimeout's default (see DrainTimeout for the 25s budget).
	DefaultDrainTimeout = 15 * time.Second
)

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.DLQTopic == "" {
		c.DLQTopic = DefaultDLQTopic
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchAge == 0 {
		c.BatchAge = DefaultBatchAge
	}
	if c.QuietAfter == 0 {
		c.QuietAfter = DefaultQuietAfter
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = 3
	}
	if c.InsertRows == 0 {
		c.InsertRows = DefaultInsertRows
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.DedupMaxIDs == 0 {
		c.DedupMaxIDs = DefaultDedupMaxIDs
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.Decoders == 0 {
		c.Decoders = min(runtime.GOMAXPROCS(0), 4)
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.ConsumerID == "" {
		c.ConsumerID = NewConsumerID()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first setting that cannot work, in one line that
// names what to change.
func (c *Config) Validate() error {
	switch {
	case c.BatchRows < 0 || c.BatchRows > 10_000_000:
		return fmt.Errorf("batch rows %d: want 1 to 10,000,000 (-batch-rows, SPACEPULSE_BATCH_ROWS)", c.BatchRows)
	case c.BatchBytes < 0 || c.BatchBytes > 1<<30:
		return fmt.Errorf("batch bytes %d: want 1 to 1 GiB (-batch-bytes, SPACEPULSE_BATCH_BYTES)", c.BatchBytes)
	case c.BatchAge < 0:
		return fmt.Errorf("batch age %s: want a positive duration such as 1s (-batch-age, SPACEPULSE_BATCH_AGE)", c.BatchAge)
	case c.DedupWindow < 0 || (c.DedupWindow > 0 && c.DedupWindow < time.Minute):
		return fmt.Errorf("dedup window %s: want at least 1m, such as 15m (-dedup-window, SPACEPULSE_DEDUP_WINDOW)", c.DedupWindow)
	case c.DedupMaxIDs < 0:
		return fmt.Errorf("dedup max ids %d: want a positive count such as 4000000 (-dedup-max-ids, SPACEPULSE_DEDUP_MAX_IDS)", c.DedupMaxIDs)
	case c.SweepInterval < 0 || (c.SweepInterval > 0 && c.SweepInterval < time.Second):
		return fmt.Errorf("sweep interval %s: want at least 1s, such as 10s (-sweep-interval, SPACEPULSE_SWEEP_INTERVAL)", c.SweepInterval)
	case c.Decoders < 0 || c.Decoders > 64:
		return fmt.Errorf("decoders %d: want 1 to 64, such as the number of cores (-decoders, SPACEPULSE_DECODERS)", c.Decoders)
	case c.QueueDepth < 0:
		return errors.New("queue depth must be positive")
	case c.InsertRows < 0:
		return fmt.Errorf("insert rows %d: want a positive count such as 200000", c.InsertRows)
	case c.Topic != "" && c.Topic == c.DLQTopic:
		return fmt.Errorf("dead-letter topic %q is the topic read: choose another (-dlq-topic, SPACEPULSE_DLQ_TOPIC)", c.DLQTopic)
	}
	return nil
}
