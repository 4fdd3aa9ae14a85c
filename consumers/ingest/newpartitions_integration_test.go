package ingest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partitions added to the topic while the group consumes are read within GroupConfig's
// MetadataMaxAge (15 s) plus a rebalance: with kgo's default 5 minutes they were not read in the
// 90 s this test allows. Events produced to the new partitions land, each once.
func TestGroupReadsAddedPartitions(t *testing.T) {
	brokers, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	topic := newTopic(t, brokers, randomName("grow-"), 2)
	run := startPipeline(t, brokers, topic, topic+".dlq", randomName("grow-group-"), ch, conn, nil)
	start := time.Now().Add(-10 * time.Minute)
	first := makeLoad(500, start, 51)
	produce(t, brokers, topic, first.msgs)
	waitFor(t, "the first events to land", func() (bool, string) {
		n := count(t, conn, "SELECT count() FROM events")
		return n == uint64(len(first.events)), describe("%d of %d", n, len(first.events))
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, 4
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30_000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("add partitions to %s: %v", topic, err)
		}
	}
	kc, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	waitFor(t, "4 partitions in the metadata", func() (bool, string) {
		ps, err := kc.ReadPartitions(topic)
		return err == nil && len(ps) == 4, describe("%d partitions, %v", len(ps), err)
	})
	// Every valid event of the second load on partition 2 or 3 (the new ones); invalid values too.
	second := makeLoad(500, start.Add(time.Minute), 52)
	for i := range second.msgs {
		// first, so that it wins over the header makeLoad gives its duplicates
		second.msgs[i].Headers = append([]kafka.Header{{Key: "x-partition", Value: []byte(strconv.Itoa(2 + i%2))}},
			second.msgs[i].Headers...)
	}
	produce(t, brokers, topic, second.msgs)
	want := uint64(len(first.events) + len(second.events))
	deadline := time.Now().Add(90 * time.Second)
	for {
		n := count(t, conn, "SELECT count() FROM events")
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events landed 90 s after partitions were added: the new partitions are not read", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := count(t, conn, "SELECT count() FROM events WHERE kafka_partition >= 2"); n != uint64(len(second.events)) {
		t.Fatalf("%d events came through the new partitions, want %d", n, len(second.events))
	}
	if n := count(t, conn, "SELECT uniqExact(event_id) FROM events"); n != want {
		t.Fatalf("%d distinct events, want %d", n, want)
	}
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
}
