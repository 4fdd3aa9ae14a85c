package ingest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/schemas"
)

// The group reader keeps the partitions of a topic even in event time, so that none falls
// behind the landed-event index: a night produced in event-time order over 8 partitions, in
// record batches larger than a fetch's share of each partition (as the producer library writes
// them), is consumed from the embedded broker of the demo and the bench (kfake) with no event
// looked up in ClickHouse. With fetch sessions kfake answered the partitions in one fixed order,
// so one partition was read to its end before the next: this test then counted 80,471–84,099 of 160,000
// events behind the index, and the demo at scale 0.3 518k of 2.7M. The fetch sizes are scaled
// down with the night (a real one is 9M events in batches of 10k).
func TestGroupReaderKeepsPartitionsEven(t *testing.T) {
	_, ch := servers(t) // ClickHouse: the index loads and the lookups; Kafka is kfake here
	ch, conn := newDatabase(t, ch)
	const partitions, events, minutes = 8, 160_000, 40
	topic, dlq := "even", "even.dlq"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic, dlq))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	// The night in event-time order, keyed by session: every partition holds every minute, about
	// 500 events a minute, in record batches of up to 64 KiB (about 200 events).
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerLinger(50*time.Millisecond), kgo.MaxBufferedRecords(events))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	start := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(11, 12))
	var enc schemas.JSONEncoder
	hs := []kgo.RecordHeader{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
	for i := range events {
		ev := schemas.Event{EventID: uuid.New(), Kind: schemas.KindJoin, SpaceID: "even-room", SessionID: uuid.New(),
			TS: start.Add(time.Duration(i) * minutes * time.Minute / events).UnixMilli(), UserID: "u" + strconv.Itoa(rng.IntN(events)),
			Role: schemas.RoleListener, JoinMS: 300}
		key, _ := ev.SessionID.MarshalText()
		prod.Produce(context.Background(), &kgo.Record{Key: key, Value: enc.AppendJSON(nil, &ev), Headers: hs}, nil)
	}
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A fetch takes 16 KiB of a partition, 128 KiB in all: whole batches of two partitions. The
	// index covers 5 minutes; a 2,000-event batch of the pipeline about 4.
	logger := testLogger(t)
	r, err := NewGroupReader(brokers, "even-group", topic, logger,
		kgo.FetchMaxPartitionBytes(16<<10), kgo.FetchMaxBytes(128<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := NewDLQWriter(brokers, dlq, logger)
	defer w.Close()
	p := New(Config{Topic: topic, DLQTopic: dlq, BatchRows: 2_000, BatchAge: 100 * time.Millisecond,
		DedupWindow: 5 * time.Minute, Logger: logger, Landed: LandedFrom(conn)}, r, NewSink(conn, ch.Database), w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "every event to land", func() (bool, string) {
		n := p.Stats().Events.Load()
		return n == events, describe("%d of %d landed", n, events)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != events {
		t.Fatalf("events holds %d rows, want %d", n, events)
	}
	if n := p.Stats().Lookups.Load(); n != 0 {
		t.Fatalf("%d of %d events fell behind the landed-event index and were looked up in ClickHouse: the partitions were not consumed evenly",
			n, events)
	}
}
