package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
)

// refusal is a row of a batch's record that ClickHouse refused, with the dead-letter reason.
type refusal struct {
	row    int
	reason string
}

// insert lands the rows of rec that ClickHouse accepts and returns the others. A transient
// error (classify) is retried with backoff until ctx ends, as before. A refused block, or one too
// big, is split in halves, each inserted on its own, down to the single rows refused: k refused
// rows of n cost about 2k·log2(n/k) more inserts, each after a failed one and therefore with
// again (the failed attempt may have stored rows: 18.16 writes the events part before its views'
// parts, so a view refusing a row leaves the others stored; WriteBlock then inserts only what is
// not stored, and reconciles the rollups over the rows' range).
//
// again is true when an earlier insert of rec's rows failed (its rows may have landed: see
// blockWriter). stop, when not nil, is asked before each attempt after a failed one: true ends the
// insert with stopped set (the caller changes rec and inserts again, with again; see landOwned).
func (p *Pipeline) insert(ctx context.Context, rec arrow.RecordBatch, again bool, stop func() bool) (refused []refusal, stopped bool, err error) {
	run := insertRun{stop: stop}
	err = p.insertRows(ctx, rec, 0, int(rec.NumRows()), again, &run)
	return run.out, run.stopped, err
}

// insertRun is the state of one insert: the rows refused so far, and whether stop ended it.
type insertRun struct {
	out     []refusal
	stop    func() bool
	stopped bool
}

// insertRows inserts rows [lo, hi) of rec; again as in blockWriter.
func (p *Pipeline) insertRows(ctx context.Context, rec arrow.RecordBatch, lo, hi int, again bool, run *insertRun) error {
	part := rec
	if lo != 0 || hi != int(rec.NumRows()) {
		part = rec.NewSlice(int64(lo), int64(hi))
		defer part.Release()
	}
	var final error // the refusal, when the rows (not the server) are at fault
	err := p.retry(ctx, "insert into clickhouse", func(ctx context.Context) error {
		if again && run.stop != nil && run.stop() {
			run.stopped = true
			return nil
		}
		err := p.store.WriteBlock(ctx, part, again)
		if err == nil {
			return nil
		}
		again = true
		if classify(err) != transient {
			final = err
			return nil // not retried as it is: split below
		}
		return err
	})
	if err != nil || final == nil || run.stopped {
		return err
	}
	if hi-lo == 1 {
		run.out = append(run.out, refusal{row: lo, reason: refusalReason(final)})
		return nil
	}
	p.cfg.Logger.Warn("insert refused: splitting the block to find the rows clickhouse refuses",
		slog.Int("rows", hi-lo), slog.String("class", classify(final).String()), slog.Any("err", final))
	mid := lo + (hi-lo)/2
	if err := p.insertRows(ctx, rec, lo, mid, true, run); err != nil || run.stopped {
		return err
	}
	return p.insertRows(ctx, rec, mid, hi, true, run)
}

// refusedLetters builds the dead letters of the refused rows of rec: each row's original
// Kafka message (value, key and headers, read back from Kafka by its partition and offset,
// which the batch does not keep) with the refusal as its reason, as deadLetter does for an
// invalid event. Without Config.Originals, or when the message is no longer in Kafka
// (retention), the letter holds the event re-encoded as JSON with header ReencodedHeader.
func (p *Pipeline) refusedLetters(ctx context.Context, rec arrow.RecordBatch, refused []refusal) ([]kafka.Message, error) {
	parts := rec.Column(schemas.ColKafkaPartition).(*array.Int32)
	offsets := rec.Column(schemas.ColKafkaOffset).(*array.Int64)
	letters := make([]kafka.Message, 0, len(refused))
	for _, r := range refused {
		m := kafka.Message{Topic: p.cfg.Topic, Partition: int(parts.Value(r.row)), Offset: offsets.Value(r.row)}
		why := "no reader of the originals configured"
		if p.cfg.Originals != nil {
			err := p.retry(ctx, "read a refused event back from kafka", func(ctx context.Context) error {
				orig, err := p.cfg.Originals.original(ctx, m.Topic, m.Partition, m.Offset)
				if err == nil {
					orig.Topic, orig.Partition, orig.Offset = m.Topic, m.Partition, m.Offset
					m, why = orig, ""
				} else if errors.Is(err, kafka.OffsetOutOfRange) {
					why = "original no longer in kafka: " + err.Error()
					return nil
				}
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		if why != "" {
			ev := rowEvent(rec, r.row)
			var enc schemas.JSONEncoder
			m.Key, _ = ev.SessionID.MarshalText()
			m.Value = enc.AppendJSON(nil, &ev)
			m.Headers = []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)},
				{Key: ReencodedHeader, Value: []byte(why)}}
		}
		letters = append(letters, deadLetter(&m, r.reason))
	}
	return letters, nil
}

// ReencodedHeader marks a dead letter of a refused event whose original message could not be
// read back from Kafka: its value is the event as the consumer decoded it, in JSON; the
// header's value says why.
const ReencodedHeader = "spacepulse-reencoded"

// forgetRefused takes the refused events out of the landed-event index (see index.forget).
func (p *Pipeline) forgetRefused(rec arrow.RecordBatch, refused []refusal) {
	if p.shared == nil {
		return
	}
	secs := make([]int64, len(refused))
	ids := make([]uuid.UUID, len(refused))
	for i, r := range refused {
		ev := rowEvent(rec, r.row)
		secs[i], ids[i] = floorDiv(ev.TS, 1000), ev.EventID
	}
	p.shared.forget(secs, ids)
}

// rowEvent returns row i of rec (schemas.Schema) as an Event that owns its strings.
func rowEvent(rec arrow.RecordBatch, i int) schemas.Event {
	str := func(c int) string { return rec.Column(c).(*array.String).Value(i) }
	ev := schemas.Event{
		EventID:    uuid.UUID(rec.Column(schemas.ColEventID).(*array.FixedSizeBinary).Value(i)),
		Kind:       schemas.Kind(rec.Column(schemas.ColKind).(*array.Int8).Value(i)),
		TS:         int64(rec.Column(schemas.ColTS).(*array.Timestamp).Value(i)),
		SpaceID:    str(schemas.ColSpaceID),
		SessionID:  uuid.UUID(rec.Column(schemas.ColSessionID).(*array.FixedSizeBinary).Value(i)),
		UserID:     str(schemas.ColUserID),
		Role:       schemas.Role(rec.Column(schemas.ColRole).(*array.Int8).Value(i)),
		Client:     str(schemas.ColClient),
		AppVersion: str(schemas.ColAppVersion),
		Region:     str(schemas.ColRegion),
		Country:    str(schemas.ColCountry),
		JoinMS:     -1,
		Attempt:    rec.Column(schemas.ColAttempt).(*array.Uint16).Value(i),
		Reason:     schemas.Reason(rec.Column(schemas.ColReason).(*array.Int8).Value(i)),
		Phase:      schemas.Phase(rec.Column(schemas.ColPhase).(*array.Int8).Value(i)),
		Code:       str(schemas.ColCode),
	}
	if jm := rec.Column(schemas.ColJoinMS).(*array.Int64); jm.IsValid(i) {
		ev.JoinMS = jm.Value(i)
	}
	if hs := rec.Column(schemas.ColHTTPStatus).(*array.Uint16); hs.IsValid(i) {
		ev.HTTPStatus = hs.Value(i)
	}
	return ev.Clone()
}

// Originals reads a message back from Kafka by its place, for the dead letter of an event
// ClickHouse refused (OriginalsFrom makes one); its method is this package's own.
type Originals interface {
	// original returns the message at offset of topic's partition, or an error matching
	// kafka.OffsetOutOfRange when the partition no longer holds it.
	original(ctx context.Context, topic string, partition int, offset int64) (kafka.Message, error)
}

// OriginalsFrom returns the Originals of the brokers, for Config.Originals: a connection to the
// partition's leader per message read (refused events are rare).
//
// dialer, when not nil, carries the TLS and SASL of the brokers (KafkaGoDialer).
func OriginalsFrom(brokers []string, dialer *kafka.Dialer) Originals {
	if dialer == nil {
		dialer = kafka.DefaultDialer
	}
	return kafkaOriginals{brokers, dialer}
}

type kafkaOriginals struct {
	brokers []string
	dialer  *kafka.Dialer
}

func (k kafkaOriginals) original(ctx context.Context, topic string, partition int, offset int64) (kafka.Message, error) {
	var conn *kafka.Conn
	err := errors.New("no broker")
	for _, b := range k.brokers {
		if conn, err = k.dialer.DialLeader(ctx, "tcp", b, topic, partition); err == nil {
			break
		}
	}
	if err != nil {
		return kafka.Message{}, fmt.Errorf("connect to the leader of %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
		return kafka.Message{}, fmt.Errorf("seek to offset %d of %s/%d: %w", offset, topic, partition, err)
	}
	b := conn.ReadBatch(1, 64<<20)
	defer b.Close()
	for {
		m, err := b.ReadMessage()
		if err != nil {
			return kafka.Message{}, fmt.Errorf("read offset %d of %s/%d: %w", offset, topic, partition, err)
		}
		switch {
		case m.Offset == offset:
			return m, nil
		case m.Offset > offset: // compacted away
			return kafka.Message{}, fmt.Errorf("offset %d of %s/%d: %w", offset, topic, partition, kafka.OffsetOutOfRange)
		}
	}
}
