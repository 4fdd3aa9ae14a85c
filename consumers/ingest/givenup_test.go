package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"
)

// ownFetcher is a chanFetcher whose partitions can be given up (revoked or lost) and regained.
type ownFetcher struct {
	chanFetcher
	mu   sync.Mutex
	lost map[int]bool
}

func (f *ownFetcher) Owns(_ string, partition int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.lost[partition]
}

func (f *ownFetcher) setLost(partition int, lost bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lost[partition] = lost
}

// outageStore fails every insert (a ClickHouse outage) until open is closed, then writes to ids.
type outageStore struct {
	idStore
	open   chan struct{}
	failed chan struct{} // closed at the first failure
	once   sync.Once
}

func (s *outageStore) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	select {
	case <-s.open:
		return s.idStore.WriteBlock(ctx, rec, again)
	default:
		s.once.Do(func() { close(s.failed) })
		return errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
	}
}

// A batch of partitions 0 and 1 waits out a ClickHouse outage during which partition 1 is given
// up: only partition 0's events land and are committed; partition 1's are left to the new owner
// and forgotten by the landed-event index, so that when they come back to this member (the same
// offsets, redelivered) they land, once. Nothing of Arrow's leaks.
func TestPipelineLeavesGivenUpPartitionsToTheirNewOwner(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	valid := validMessages(200)
	var p1 []kafka.Message
	src := &ownFetcher{chanFetcher: chanFetcher{commitLog: &commitLog{top: map[int]int64{}}, msgs: make(chan kafka.Message, 2*len(valid))},
		lost: map[int]bool{}}
	for i, m := range valid {
		m.Partition, m.Offset = i%2, int64(i/2)
		if m.Partition == 1 {
			p1 = append(p1, m)
		}
		src.msgs <- m
	}
	store := &outageStore{idStore: idStore{ids: map[[16]byte]int{}}, open: make(chan struct{}), failed: make(chan struct{})}
	p := New(Config{BatchRows: 1000, BatchAge: 50 * time.Millisecond, Decoders: 1, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, src, store, &fakeDLQ{j: &journal{}})
	p.mem = mem
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	<-store.failed       // the batch is being retried
	src.setLost(1, true) // a rebalance gives partition 1 to another member meanwhile
	time.Sleep(20 * time.Millisecond)
	close(store.open) // ClickHouse is back
	wait("partition 0 committed", func() bool {
		src.commitLog.mu.Lock()
		defer src.commitLog.mu.Unlock()
		return src.top[0] == 99
	})
	store.mu.Lock()
	landed := len(store.ids)
	store.mu.Unlock()
	src.commitLog.mu.Lock()
	_, committed1 := src.top[1]
	src.commitLog.mu.Unlock()
	if landed != 100 || committed1 || p.Stats().GivenUp.Load() != 100 {
		t.Fatalf("after the outage: %d events landed, partition 1 committed %v, %d given up; want 100, false, 100",
			landed, committed1, p.Stats().GivenUp.Load())
	}
	// Partition 1 comes back, and its uncommitted messages are read again.
	src.setLost(1, false)
	for _, m := range p1 {
		src.msgs <- m
	}
	wait("partition 1 committed", func() bool {
		src.commitLog.mu.Lock()
		defer src.commitLog.mu.Unlock()
		return src.top[1] == 99
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(store.ids) != len(valid) {
		t.Fatalf("%d distinct events landed, want %d", len(store.ids), len(valid))
	}
	for id, n := range store.ids {
		if n != 1 {
			t.Fatalf("event %x landed %d times", id, n)
		}
	}
}
