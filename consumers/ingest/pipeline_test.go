package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// Unit tests of the pipeline's ordering with fakes of its three small
// interfaces; the evidence that it works with Kafka and ClickHouse is in the
// *_integration_test.go files.

type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.steps = append(j.steps, s)
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.steps...)
}

type fakeFetcher struct {
	j     *journal
	msgs  chan kafka.Message
	fails int // CommitMessages fails this many times first
}

func (f *fakeFetcher) FetchMessages(ctx context.Context) ([]kafka.Message, error) {
	return receive(ctx, f.msgs)
}

func (f *fakeFetcher) Assignments() int64 { return 1 } // one assignment, before the first fetch

func (f *fakeFetcher) Owns(string, int) bool { return true }

// receive waits for a message on msgs and returns it with up to 15 more that are there already,
// as a fetch returns what the client has buffered.
func receive(ctx context.Context, msgs <-chan kafka.Message) ([]kafka.Message, error) {
	var out []kafka.Message
	select {
	case m := <-msgs:
		out = append(out, m)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(out) < 16 {
		select {
		case m := <-msgs:
			out = append(out, m)
		default:
			return out, nil
		}
	}
	return out, nil
}

func (f *fakeFetcher) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	if f.fails > 0 {
		f.fails--
		f.j.add("commit failed")
		return errors.New("injected commit failure")
	}
	top := int64(-1)
	for _, m := range msgs {
		top = max(top, m.Offset)
	}
	f.j.add("commit " + strconv.FormatInt(top, 10))
	return nil
}

type fakeStore struct {
	j     *journal
	fails int
	rows  int
}

func (s *fakeStore) WriteBlock(_ context.Context, rec arrow.RecordBatch, _ bool) error {
	if s.fails > 0 {
		s.fails--
		s.j.add("insert failed")
		return errors.New("injected insert failure")
	}
	s.rows += int(rec.NumRows())
	s.j.add("insert " + strconv.FormatInt(rec.NumRows(), 10))
	return nil
}

type fakeDLQ struct {
	j    *journal
	msgs []kafka.Message
}

func (d *fakeDLQ) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.msgs = append(d.msgs, msgs...)
	d.j.add("dlq " + strconv.Itoa(len(msgs)))
	return nil
}

func validMessages(n int) []kafka.Message {
	g := synth.NewGenerator(synth.Load{Events: n, Seed: 9, Start: time.Now().Add(-time.Hour)})
	var enc schemas.JSONEncoder
	var ev schemas.Event
	var out []kafka.Message
	for i := 0; g.Next(&ev); i++ {
		out = append(out, kafka.Message{Topic: "t", Partition: 0, Offset: int64(i), Value: enc.AppendJSON(nil, &ev)})
	}
	return out
}

func TestPipelineOrderAndRetries(t *testing.T) {
	f := func(name string, msgs []kafka.Message, storeFails, commitFails int, want []string) {
		t.Helper()
		j := &journal{}
		src := &fakeFetcher{j: j, msgs: make(chan kafka.Message, len(msgs)), fails: commitFails}
		for _, m := range msgs {
			src.msgs <- m
		}
		store := &fakeStore{j: j, fails: storeFails}
		dlq := &fakeDLQ{j: j}
		p := New(Config{BatchRows: 4, BatchAge: time.Hour, QuietAfter: -1, RetryMin: time.Millisecond, RetryMax: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)}, src, store, dlq)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		// Let the full batches land, then stop: the partial batch is drained.
		deadline := time.Now().Add(5 * time.Second)
		for (len(src.msgs) > 0 || p.Stats().Events.Load()+p.Stats().Invalid.Load() < int64(len(msgs)/4*4)) &&
			time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // the last fetched message reaches the batcher
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: Run: %v", name, err)
		}
		got := j.all()
		if describe("%q", got) != describe("%q", want) {
			t.Fatalf("%s: steps\n%q\nwant\n%q", name, got, want)
		}
	}
	valid := validMessages(6)
	f("two batches, the second cut at shutdown", valid, 0, 0,
		[]string{"insert 4", "commit 3", "insert 2", "commit 5"})
	f("insert retried before the commit", valid[:4], 2, 0,
		[]string{"insert failed", "insert failed", "insert 4", "commit 3"})
	f("commit retried, insert not repeated", valid[:4], 0, 1,
		[]string{"insert 4", "commit failed", "commit 3"})
	bad := append([]kafka.Message(nil), valid[:4]...)
	bad[1] = kafka.Message{Topic: "t", Offset: 1, Value: []byte("{nope")}
	f("dead letters written before the insert", bad, 0, 0, []string{"dlq 1", "insert 3", "commit 3"})
	allBad := []kafka.Message{{Topic: "t", Offset: 0, Value: []byte("x")}, {Topic: "t", Offset: 1}}
	f("a batch of only invalid events is committed", allBad, 0, 0, []string{"dlq 2", "commit 1"})
}

func TestBatcherCuts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	msgs := validMessages(10)
	cfg := Config{BatchRows: 3, BatchBytes: 1 << 20, BatchAge: 50 * time.Millisecond}
	cfg.setDefaults()
	b := newBatcher(&cfg, mem, newSharedIndex(&cfg, &atomic.Int64{}), &atomic.Int64{}, &Stats{})
	defer b.release()
	ctx := context.Background()
	f := func(i int, wantFull bool) {
		t.Helper()
		if got, err := b.add(ctx, &msgs[i], 0); err != nil || got != wantFull {
			t.Fatalf("add #%d: full=%v, %v; want %v", i, got, err, wantFull)
		}
	}
	cut := func() *batch {
		t.Helper()
		bt, err := b.cut(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return bt
	}
	f(0, false)
	f(1, false)
	f(2, true)
	bt := cut()
	if bt.valid != 3 || bt.rec.NumRows() != 3 || len(bt.commits) != 1 || bt.commits[0].Offset != 2 {
		t.Fatalf("cut: %d valid, %d commits %+v", bt.valid, len(bt.commits), bt.commits)
	}
	bt.release()
	if cut() != nil {
		t.Fatal("an empty batcher cut a batch")
	}
	f(3, false)
	if b.due(time.Now()) {
		t.Fatal("due before BatchAge")
	}
	if !b.due(time.Now().Add(60 * time.Millisecond)) {
		t.Fatal("not due after BatchAge")
	}
	cut().release()

	cfg.BatchBytes = len(msgs[4].Value) + 1
	f(4, false)
	f(5, true) // cut on bytes
	cut().release()
}

func TestDeadLetterHeaders(t *testing.T) {
	m := kafka.Message{Topic: "spaces.events", Partition: 7, Offset: 42, Key: []byte("k"), Value: []byte("v"),
		Headers: []kafka.Header{{Key: "content-type", Value: []byte("text/csv")}, {Key: "error", Value: []byte("old")}}}
	d := deadLetter(&m, "unknown content-type")
	want := map[string]string{"content-type": "text/csv", "error": "unknown content-type",
		"source-topic": "spaces.events", "source-partition": "7", "source-offset": "42"}
	if len(d.Headers) != len(want) || string(d.Key) != "k" || string(d.Value) != "v" {
		t.Fatalf("dead letter %+v", d)
	}
	for _, h := range d.Headers {
		if want[h.Key] != string(h.Value) {
			t.Fatalf("header %s=%q, want %q", h.Key, h.Value, want[h.Key])
		}
	}
}

// idStore records the event ids of every block written.
type idStore struct {
	mu  sync.Mutex
	ids map[[16]byte]int
}

func (s *idStore) WriteBlock(_ context.Context, rec arrow.RecordBatch, _ bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	col := rec.Column(schemas.ColEventID).(*array.FixedSizeBinary)
	for i := range col.Len() {
		s.ids[[16]byte(col.Value(i))]++
	}
	return nil
}

type commitLog struct {
	mu  sync.Mutex
	top map[int]int64
}

func (c *commitLog) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if top, ok := c.top[m.Partition]; ok && m.Offset <= top {
			return errors.New("commit went backwards on partition " + strconv.Itoa(m.Partition))
		}
		c.top[m.Partition] = m.Offset
	}
	return nil
}

type chanFetcher struct {
	*commitLog
	msgs chan kafka.Message
}

func (f chanFetcher) FetchMessages(ctx context.Context) ([]kafka.Message, error) {
	return receive(ctx, f.msgs)
}

func (f chanFetcher) Assignments() int64 { return 1 } // one assignment, before the first fetch

func (f chanFetcher) Owns(string, int) bool { return true }

// Four decoders over eight partitions, every event sent twice, the copy through another
// partition (so to another decoder): each event is written once, every partition's offsets are
// committed in order up to its last message, and the Arrow buffers are all released.
func TestDecodersShareOneIndex(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	valid := validMessages(4_000)
	src := chanFetcher{commitLog: &commitLog{top: map[int]int64{}}, msgs: make(chan kafka.Message, 2*len(valid))}
	next := make([]int64, 8)
	send := func(m kafka.Message, partition int) {
		m.Partition, m.Offset = partition, next[partition]
		next[partition]++
		src.msgs <- m
	}
	for i, m := range valid {
		send(m, i%8)
		send(m, (i+3)%8)
	}
	store := &idStore{ids: map[[16]byte]int{}}
	p := New(Config{BatchRows: 300, BatchAge: 20 * time.Millisecond, Decoders: 4, Logger: slog.New(slog.DiscardHandler)},
		src, store, &fakeDLQ{j: &journal{}})
	p.mem = mem
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for s := p.Stats(); s.Events.Load()+s.Duplicates.Load() < int64(2*len(valid)) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(store.ids) != len(valid) {
		t.Fatalf("%d distinct events written, want %d", len(store.ids), len(valid))
	}
	for id, n := range store.ids {
		if n != 1 {
			t.Fatalf("event %x written %d times", id, n)
		}
	}
	for part, n := range next {
		if got := src.top[part]; got != n-1 {
			t.Fatalf("partition %d committed up to %d, want %d", part, got, n-1)
		}
	}
	if d := p.Stats().Duplicates.Load(); d != int64(len(valid)) {
		t.Fatalf("%d duplicates dropped, want %d", d, len(valid))
	}
}

// groupStore is a fakeStore that can insert several records together (a groupWriter). Its first
// insert signals entered and waits for gate, so that the batches behind it queue up.
type groupStore struct {
	fakeStore
	entered, gate chan struct{}
	groupFails    int
	firstWaited   bool
}

func (s *groupStore) Groups() bool { return true }

func (s *groupStore) wait() {
	if !s.firstWaited {
		s.firstWaited = true
		close(s.entered)
		<-s.gate
	}
}

func (s *groupStore) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	s.wait()
	if again {
		s.j.add("again")
	}
	return s.fakeStore.WriteBlock(ctx, rec, again)
}

func (s *groupStore) WriteBlocks(_ context.Context, recs []arrow.RecordBatch) error {
	s.wait()
	if s.groupFails > 0 {
		s.groupFails--
		s.j.add("insert together failed")
		return errors.New("injected insert failure")
	}
	step := "insert together"
	for _, rec := range recs {
		s.rows += int(rec.NumRows())
		step += " " + strconv.FormatInt(rec.NumRows(), 10)
	}
	s.j.add(step)
	return nil
}

// TestWriterInsertsQueuedBatchesTogether: the batches queued while the writer lands one go into
// one insert (InsertRows permitting) and are then committed one by one, in order; when that
// insert fails, each is inserted on its own as after a failed attempt (again).
func TestWriterInsertsQueuedBatchesTogether(t *testing.T) {
	f := func(name string, groupFails, insertRows int, want []string) {
		t.Helper()
		j := &journal{}
		msgs := validMessages(12)
		src := &fakeFetcher{j: j, msgs: make(chan kafka.Message, len(msgs))}
		for _, m := range msgs[:4] {
			src.msgs <- m
		}
		store := &groupStore{fakeStore: fakeStore{j: j}, entered: make(chan struct{}), gate: make(chan struct{}),
			groupFails: groupFails}
		p := New(Config{BatchRows: 4, BatchAge: time.Hour, QuietAfter: -1, InsertRows: insertRows, RetryMin: time.Millisecond,
			RetryMax: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, src, store, &fakeDLQ{j: j})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		<-store.entered // batch 1 is being inserted
		for _, m := range msgs[4:] {
			src.msgs <- m
		}
		deadline := time.Now().Add(5 * time.Second)
		for p.handed.Load() < 12 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // batches 2 and 3 are cut and queued behind batch 1
		close(store.gate)
		for p.Stats().Events.Load() < 12 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: Run: %v", name, err)
		}
		if got := j.all(); describe("%q", got) != describe("%q", want) || store.rows != 12 {
			t.Fatalf("%s: %d rows inserted, steps\n%q\nwant\n%q", name, store.rows, got, want)
		}
	}
	f("queued batches in one insert", 0, 100,
		[]string{"insert 4", "commit 3", "insert together 4 4", "commit 7", "commit 11"})
	f("that insert failed: each on its own, as after a failed attempt", 1, 100,
		[]string{"insert 4", "commit 3", "insert together failed", "again", "insert 4", "commit 7", "again", "insert 4", "commit 11"})
	f("InsertRows at BatchRows: one batch an insert", 0, 4,
		[]string{"insert 4", "commit 3", "insert 4", "commit 7", "insert 4", "commit 11"})
}

// TestQuietTopicCutsAtOnce: with BatchAge an hour, a batch is cut once Kafka has had nothing for
// QuietAfter (the end of a burst lands at once), and not while messages keep coming faster than
// that, however slowly (a steady stream still fills its batches).
func TestQuietTopicCutsAtOnce(t *testing.T) {
	j := &journal{}
	msgs := validMessages(30)
	src := &fakeFetcher{j: j, msgs: make(chan kafka.Message, len(msgs))}
	store := &fakeStore{j: j}
	p := New(Config{BatchRows: 1000, BatchAge: time.Hour, QuietAfter: 100 * time.Millisecond, Decoders: 1,
		Logger: slog.New(slog.DiscardHandler)}, src, store, &fakeDLQ{j: j})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 5 s (steps %q)", what, j.all())
			}
		}
	}
	// A burst, then nothing: landed after about QuietAfter, not BatchAge.
	start := time.Now()
	for _, m := range msgs[:10] {
		src.msgs <- m
	}
	wait("the burst landed", func() bool { return len(j.all()) == 2 })
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the burst landed after %s, before the topic was quiet for QuietAfter", took)
	}
	// A trickle, a message every 20 ms (QuietAfter 100 ms): one batch, cut only when it stops.
	for _, m := range msgs[10:] {
		src.msgs <- m
		time.Sleep(20 * time.Millisecond)
	}
	wait("the trickle landed", func() bool { return len(j.all()) == 4 })
	if got, want := describe("%q", j.all()), describe("%q", []string{"insert 10", "commit 9", "insert 20", "commit 29"}); got != want {
		t.Fatalf("steps %s, want %s", got, want)
	}
}
