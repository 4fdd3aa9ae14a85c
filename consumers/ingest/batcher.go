package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
)

// batch is what the writer lands in one go: the valid events as an Arrow
// record, the invalid ones as dead-letter messages, and the offsets to commit
// once both are written.
type batch struct {
	rec     arrow.RecordBatch // nil when every event was invalid
	dead    []kafka.Message
	commits []kafka.Message // the highest message of each partition
	valid   int
	bytes   int
}

func (b *batch) release() {
	if b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
}

// batcher decodes messages into the Arrow appender and cuts batches. It is
// a plain struct owned by the batcher goroutine: no locks, no goroutines.
type batcher struct {
	cfg   *Config
	dec   *schemas.Decoder
	app   *schemas.Appender
	ev    schemas.Event
	dead  []kafka.Message
	topic string        // of the messages in this batch
	last  map[int]int64 // the highest offset of each partition in this batch
	n     int           // messages (valid and invalid)
	bytes int
	first time.Time // when the first message of this batch arrived
	now   time.Time // clock reading shared by a run of messages
}

func newBatcher(cfg *Config, mem memory.Allocator) *batcher {
	return &batcher{
		cfg:  cfg,
		dec:  schemas.NewDecoder(),
		app:  schemas.NewAppender(mem),
		last: make(map[int]int64),
	}
}

// add decodes m into the current batch; it reports whether the batch is
// full and must be cut.
func (b *batcher) add(m *kafka.Message) bool {
	if b.n == 0 {
		b.first = time.Now()
		b.now = b.cfg.Now()
	}
	b.n++
	b.bytes += len(m.Value)
	b.topic = m.Topic
	if off, ok := b.last[m.Partition]; !ok || m.Offset > off {
		b.last[m.Partition] = m.Offset
	}
	if b.n&1023 == 0 {
		b.now = b.cfg.Now() // the future-ts check needs a clock, not a precise one
	}
	err := b.dec.Decode(contentType(m.Headers), m.Value, &b.ev, b.now)
	if err == nil && len(m.Value) == 0 {
		err = &schemas.InvalidError{Reason: "empty value"}
	}
	if err != nil {
		b.dead = append(b.dead, deadLetter(m, err.Error()))
	} else {
		b.app.Append(&b.ev, int32(m.Partition), m.Offset)
	}
	return b.n >= b.cfg.BatchRows || b.bytes >= b.cfg.BatchBytes
}

// due reports whether a non-empty batch has waited BatchAge.
func (b *batcher) due(now time.Time) bool {
	return b.n > 0 && now.Sub(b.first) >= b.cfg.BatchAge
}

// cut returns the current batch (nil when empty) and starts a new one.
func (b *batcher) cut() *batch {
	if b.n == 0 {
		return nil
	}
	out := &batch{dead: b.dead, valid: b.app.Len(), bytes: b.bytes}
	if b.app.Len() > 0 {
		out.rec = b.app.NewRecord()
	}
	for p, off := range b.last {
		out.commits = append(out.commits, kafka.Message{Topic: b.topic, Partition: p, Offset: off})
	}
	clear(b.last)
	b.dead, b.n, b.bytes = nil, 0, 0
	// A new record starts with empty builders: size them once instead of
	// letting every column grow by doubling through the next batch.
	b.app.Reserve(min(out.valid, b.cfg.BatchRows))
	return out
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

// deadLetter builds the dead-letter message of EVENTS.md: the same key and
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
