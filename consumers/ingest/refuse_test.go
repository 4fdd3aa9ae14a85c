package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// refusingStore refuses, as ClickHouse does for a value it cannot parse (code 6), every block
// holding an event of a space whose id starts with "poison", and keeps the event ids of the
// blocks it accepts.
type refusingStore struct {
	mu      sync.Mutex
	calls   int
	landed  map[string]int
	transit int // the first calls fail with a transient error
}

func (s *refusingStore) WriteBlock(_ context.Context, rec arrow.RecordBatch, _ bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.transit > 0 {
		s.transit--
		return fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 210, Message: "connection reset"})
	}
	spaces := rec.Column(schemas.ColSpaceID).(*array.String)
	for i := range spaces.Len() {
		if strings.HasPrefix(spaces.Value(i), "poison") {
			return fmt.Errorf("insert %d rows into events: %w", rec.NumRows(),
				&clickhouse.Exception{Code: 6, Message: "Cannot parse string '" + spaces.Value(i) + "' as Int32"})
		}
	}
	for i := range spaces.Len() {
		s.landed[rowEvent(rec, i).EventID.String()]++
	}
	return nil
}

func (s *refusingStore) snapshot() (calls int, landed map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.landed {
		out[k] = v
	}
	return s.calls, out
}

// fakeOriginals reads messages back from the test's own list, by offset.
type fakeOriginals []kafka.Message

func (o fakeOriginals) original(_ context.Context, _ string, _ int, offset int64) (kafka.Message, error) {
	if offset < 0 || offset >= int64(len(o)) {
		return kafka.Message{}, kafka.OffsetOutOfRange
	}
	return o[offset], nil
}

func TestPipelineDeadLettersRefusedRows(t *testing.T) {
	f := func(name string, n int, poison []int, transient int, maxCalls int, originals bool) {
		t.Helper()
		g := synth.NewGenerator(synth.Load{Events: n, Seed: 5, Start: time.Now().Add(-time.Hour)})
		var enc schemas.JSONEncoder
		var ev schemas.Event
		var msgs []kafka.Message
		bad := map[int]bool{}
		for _, i := range poison {
			bad[i] = true
		}
		var events []schemas.Event
		for i := 0; g.Next(&ev); i++ {
			e := ev.Clone()
			if bad[i] {
				e.SpaceID = fmt.Sprintf("poison-%d", i)
			}
			events = append(events, e)
			msgs = append(msgs, kafka.Message{Topic: "t", Offset: int64(i), Key: []byte(fmt.Sprintf("key-%d", i)),
				Value: enc.AppendJSON(nil, &e), Headers: []kafka.Header{{Key: "x-trace", Value: []byte("t")}}})
		}
		// The first poison event again, later: it must be refused again, not dropped as landed.
		again := len(msgs)
		if len(poison) > 0 {
			m := msgs[poison[0]]
			m.Offset = int64(again)
			msgs = append(msgs, m)
		}
		j := &journal{}
		src := &fakeFetcher{j: j, msgs: make(chan kafka.Message, len(msgs))}
		store := &refusingStore{landed: map[string]int{}, transit: transient}
		dlq := &fakeDLQ{j: j}
		cfg := Config{BatchRows: n, BatchAge: 20 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)}
		if originals {
			cfg.Originals = fakeOriginals(msgs)
		}
		p := New(cfg, src, store, dlq)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		for _, m := range msgs[:n] {
			src.msgs <- m
		}
		deadline := time.Now().Add(60 * time.Second)
		for p.Stats().Events.Load()+p.Stats().Invalid.Load() < int64(n) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		for _, m := range msgs[n:] {
			src.msgs <- m
		}
		for p.Stats().Events.Load()+p.Stats().Invalid.Load() < int64(len(msgs)) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: Run: %v", name, err)
		}
		calls, landed := store.snapshot()
		for i, e := range events {
			got := landed[e.EventID.String()]
			if want := map[bool]int{true: 0, false: 1}[bad[i]]; got != want {
				t.Errorf("%s: event %d (poison %v) landed %d times, want %d", name, i, bad[i], got, want)
			}
		}
		wantDead := len(poison)
		if len(poison) > 0 {
			wantDead++
		}
		if len(dlq.msgs) != wantDead {
			t.Fatalf("%s: %d dead letters, want %d", name, len(dlq.msgs), wantDead)
		}
		for _, d := range dlq.msgs {
			hs := map[string]string{}
			for _, h := range d.Headers {
				hs[h.Key] = string(h.Value)
			}
			off := hs["source-offset"]
			var i int
			fmt.Sscan(off, &i)
			orig := msgs[i]
			if !strings.HasPrefix(hs["error"], "clickhouse_rejected: CANNOT_PARSE_TEXT: Cannot parse string 'poison-") {
				t.Errorf("%s: dead letter of offset %s: error %q, want the refusal", name, off, hs["error"])
			}
			if originals && (string(d.Value) != string(orig.Value) || string(d.Key) != string(orig.Key) || hs["x-trace"] != "t") {
				t.Errorf("%s: dead letter of offset %s: key %q, headers %v; want the original message", name, off, d.Key, hs)
			}
			if !originals {
				var got schemas.Event
				err := schemas.NewDecoder().Decode(hs["content-type"], d.Value, &got, time.Now())
				want := events[poison[0]]
				if i != again {
					want = events[i]
				}
				if err != nil || got != want || hs[ReencodedHeader] == "" {
					t.Errorf("%s: re-encoded dead letter of offset %s: %+v, %v, header %q; want %+v", name, off, got, err, hs[ReencodedHeader], want)
				}
			}
		}
		if calls > maxCalls {
			t.Errorf("%s: %d inserts, want at most %d (k refused rows of n cost about 2k·log2(n/k))", name, calls, maxCalls)
		}
		steps := j.all()
		if last := steps[len(steps)-1]; !strings.HasPrefix(last, "commit") {
			t.Errorf("%s: last step %q, want the commit after the dead letters", name, last)
		}
	}
	f("no refusal", 100, nil, 0, 1, true)
	f("one refused row of 1000", 1000, []int{517}, 0, 2*10+2+2, true)
	f("three refused rows, first and last among them", 1000, []int{0, 500, 999}, 0, 3*2*10+2+2, true)
	f("transient errors retried before the split", 200, []int{7}, 3, 3+2*8+2+2, true)
	f("no originals: the event re-encoded", 300, []int{100, 101}, 0, 2*2*9+2+2, false)
}
