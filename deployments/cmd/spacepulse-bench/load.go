package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

var jsonHeaders = []kgo.RecordHeader{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}

// produced is what preProduce wrote.
type produced struct {
	events, bytes int64
	took          time.Duration
}

// preProduce streams the load into topic at addr as JSON, keyed by
// session_id like the producer library, in LZ4 batches. At most 100,000
// records are buffered at a time: the events are never all held in memory.
func preProduce(ctx context.Context, addr, topic string, l synth.Load) (produced, error) {
	start := time.Now()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100_000),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(),
	)
	if err != nil {
		return produced{}, fmt.Errorf("connect producer to %s: %w", addr, err)
	}
	defer cl.Close()
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
		}
	}
	var out produced
	g := synth.NewGenerator(l)
	var ev schemas.Event
	var enc schemas.JSONEncoder
	for g.Next(&ev) {
		key, _ := ev.SessionID.MarshalText() // never fails for a UUID
		v := enc.AppendJSON(make([]byte, 0, 320), &ev)
		cl.Produce(ctx, &kgo.Record{Key: key, Value: v, Headers: jsonHeaders}, promise)
		out.events++
		out.bytes += int64(len(v))
		if failed.Load() > 0 || ctx.Err() != nil {
			break
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return out, fmt.Errorf("flush the load to %s: %w", topic, err)
	}
	if n := failed.Load(); n > 0 {
		return out, fmt.Errorf("produce the load to %s: %d records failed, first: %w", topic, n, *firstErr.Load())
	}
	out.took = time.Since(start)
	return out, ctx.Err()
}

// inserted is what directInsert measured.
type inserted struct {
	rows, inserts int64
	took          time.Duration // in WriteBlocks only
}

// directInsert builds the same events into Arrow records of batchRows rows and lands them with
// ingest.Sink.WriteBlocks, insertRows rows an insert, as the consumer's writer does at most,
// timing only WriteBlocks: ClickHouse's own columnar insert of these rows, without Kafka or
// JSON. Rows carry partition 0 and their index as offset.
func directInsert(ctx context.Context, conn driver.Conn, database string, l synth.Load, batchRows, insertRows int) (inserted, error) {
	app := schemas.NewAppender(memory.DefaultAllocator)
	defer app.Release()
	sink := ingest.NewSink(conn, database)
	var out inserted
	var recs []arrow.RecordBatch // blocks of batchRows rows, inserted together up to insertRows
	rows := 0
	flush := func() error {
		defer func() {
			for _, rec := range recs {
				rec.Release()
			}
			recs, rows = recs[:0], 0
		}()
		start := time.Now()
		if err := sink.WriteBlocks(ctx, recs); err != nil {
			return err
		}
		out.took += time.Since(start)
		out.rows += int64(rows)
		out.inserts++
		return nil
	}
	cut := func() error {
		rec := app.NewRecord()
		recs, rows = append(recs, rec), rows+int(rec.NumRows())
		if rows+batchRows > max(insertRows, batchRows) {
			return flush()
		}
		return nil
	}
	g := synth.NewGenerator(l)
	var ev schemas.Event
	for i := int64(0); g.Next(&ev); i++ {
		app.Append(&ev, 0, i)
		if app.Len() == batchRows {
			if err := cut(); err != nil {
				return out, err
			}
		}
	}
	if app.Len() > 0 {
		recs = append(recs, app.NewRecord())
		rows += int(recs[len(recs)-1].NumRows())
	}
	if len(recs) > 0 {
		if err := flush(); err != nil {
			return out, err
		}
	}
	return out, nil
}
