package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// revokeCluster is a kfake broker with topic t of 4 partitions holding records offsets 0-3 each.
func revokeCluster(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	produceEach(t, cluster.ListenAddrs(), 4)
	return cluster.ListenAddrs()
}

// produceEach writes n records to each of t's 4 partitions.
func produceEach(t *testing.T, brokers []string, n int) {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for p := range int32(4) {
		for range n {
			prod.Produce(context.Background(), &kgo.Record{Partition: p, Value: []byte("v")}, nil)
		}
	}
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// fetchAll fetches from r until it holds n messages.
func fetchAll(t *testing.T, r *GroupReader, n int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		ms, err := r.FetchMessages(ctx)
		if err != nil {
			t.Fatalf("fetched %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, ms...)
	}
	return out
}

// committedOffsets is group's committed offset of each of topic's first partitions (-1: none),
// read from the broker.
func committedOffsets(t *testing.T, brokers []string, group, topic string, partitions int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range int32(partitions) {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("offset fetch of partition %d: error code %d", p.Partition, p.ErrorCode)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// A member whose partitions are revoked before its batch lands does not commit them: the batch's
// commit leaves them out (counted), and the new owner reads them from the start. The partitions
// it kept are committed.
func TestGroupReaderLeavesRevokedPartitionsUncommitted(t *testing.T) {
	brokers := revokeCluster(t)
	logger := slog.New(slog.DiscardHandler)
	a, err := NewGroupReaderWith(brokers, "g", "t", GroupConfig{RevokeWait: time.Millisecond}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	batch := fetchAll(t, a, 16) // a owns all 4 partitions and holds their messages uncommitted
	b, err := NewGroupReader(brokers, "g", "t", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "b to be assigned partitions", func() (bool, string) {
		return b.Owned() > 0 && a.Owned()+b.Owned() == 4, describe("a owns %d, b %d", a.Owned(), b.Owned())
	})
	if err := a.CommitMessages(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	if got, want := a.DroppedCommits(), int64(b.Owned()); got != want {
		t.Fatalf("a dropped %d partition commits, want %d (the partitions b took)", got, want)
	}
	committed := committedOffsets(t, brokers, "g", "t", 4)
	moved := 0
	for p, off := range committed {
		switch off {
		case 4: // kept by a
		case -1:
			moved++
		default:
			t.Fatalf("partition %d committed at %d: want 4 (kept by a) or none (taken by b)", p, off)
		}
	}
	if moved != b.Owned() {
		t.Fatalf("%d partitions left uncommitted, want the %d b owns: %v", moved, b.Owned(), committed)
	}
	// b reads its partitions from the start.
	for _, m := range fetchAll(t, b, 4*b.Owned()) {
		if m.Offset > 3 {
			t.Fatalf("b read partition %d from offset %d, want from 0", m.Partition, m.Offset)
		}
	}
}

// A member whose partitions are revoked waits for the batch it holds to commit before it gives
// them up: the commit, sent while the revoke waits, is kept, and the new owner reads only what
// came after it.
func TestGroupReaderCommitsBeforeGivingPartitionsUp(t *testing.T) {
	brokers := revokeCluster(t)
	waiting := make(chan struct{}, 1)
	a, err := NewGroupReaderWith(brokers, "g", "t", GroupConfig{RevokeWait: 15 * time.Second},
		slog.New(signalHandler{msg: "waiting for the batches in flight of revoked partitions", c: waiting}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	batch := fetchAll(t, a, 16)
	b, err := NewGroupReader(brokers, "g", "t", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case <-waiting: // a's revoke waits for the batch
	case <-time.After(60 * time.Second):
		t.Fatal("a's revoke did not wait for its batch in flight")
	}
	if b.Owned() != 0 {
		t.Fatalf("b owns %d partitions while a still holds them", b.Owned())
	}
	if err := a.CommitMessages(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to be assigned partitions", func() (bool, string) {
		return b.Owned() > 0 && a.Owned()+b.Owned() == 4, describe("a owns %d, b %d", a.Owned(), b.Owned())
	})
	if n := a.DroppedCommits(); n != 0 {
		t.Fatalf("a dropped %d partition commits, want none (it waited for them)", n)
	}
	for p, off := range committedOffsets(t, brokers, "g", "t", 4) {
		if off != 4 {
			t.Fatalf("partition %d committed at %d, want 4", p, off)
		}
	}
	produceEach(t, brokers, 1)
	for _, m := range fetchAll(t, b, b.Owned()) {
		if m.Offset != 4 {
			t.Fatalf("b read partition %d at offset %d, want only the new record at 4", m.Partition, m.Offset)
		}
	}
}

// signalHandler is a slog handler that sends on c when a record with message msg is logged.
type signalHandler struct {
	msg string
	c   chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.c <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }
