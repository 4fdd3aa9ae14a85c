package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// A rolling upgrade from the consumer of before (kafka-go's Reader, range balancing) to the
// GroupReader, one member of each in one group: the group agrees on range, the one protocol both
// offer, and between them they read every message. kafka-go cannot read the kgo member's
// metadata when it leads the group ("unable to read metadata for member"), so the kgo member
// ends with every partition and the kafka-go member idles until it is stopped: nothing is lost,
// and the upgrade finishes when the old members are gone.
func TestGroupReaderJoinsAKafkaGoGroup(t *testing.T) {
	brokers, _ := servers(t)
	topic := newTopic(t, brokers, randomName("mixed-"), 4)
	const n = 400
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte{byte(i)}, Value: []byte("v")})
	}
	group := randomName("group-")
	old := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer old.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The old member joins first and owns every partition.
	oldGot := make(chan kafka.Message, n)
	go func() {
		for {
			m, err := old.FetchMessage(ctx)
			if err != nil {
				return
			}
			oldGot <- m
			_ = old.CommitMessages(ctx, m)
		}
	}()
	produce(t, brokers, topic, msgs[:n/2])
	seen := map[[2]int64]int{}
	for range n / 2 {
		select {
		case m := <-oldGot:
			seen[[2]int64{int64(m.Partition), m.Offset}]++
		case <-ctx.Done():
			t.Fatalf("the kafka-go member read %d of %d", len(seen), n/2)
		}
	}
	r, err := NewGroupReader(brokers, group, topic, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	newGot, newParts := 0, map[int]bool{}
	waitFor(t, "the new member to get partitions", func() (bool, string) {
		return r.Assignments() > 0, describe("%d assignments", r.Assignments())
	})
	produce(t, brokers, topic, msgs[n/2:])
	for len(seen) < n {
		fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		ms, _ := r.FetchMessages(fctx)
		fcancel()
		for _, m := range ms {
			seen[[2]int64{int64(m.Partition), m.Offset}]++
			newGot++
			newParts[m.Partition] = true
		}
		if err := r.CommitMessages(ctx, ms...); err != nil && len(ms) > 0 {
			t.Fatal(err)
		}
	drain:
		for {
			select {
			case m := <-oldGot:
				seen[[2]int64{int64(m.Partition), m.Offset}]++
			default:
				break drain
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages (%d by the new member)", len(seen), n, newGot)
		}
	}
	if newGot == 0 {
		t.Fatal("the new member read nothing: it got no partition")
	}
	again := 0
	for _, c := range seen {
		again += c - 1
	}
	t.Logf("%d messages, %d by the new member from partitions %v, %d read twice", len(seen), newGot, newParts, again)
}
