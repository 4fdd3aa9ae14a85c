package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// sent is what a test produced: the valid events (with duplicates) and the
// invalid values with the reason the DLQ must carry.
type sent struct {
	events  []schemas.Event // distinct valid events
	msgs    []kafka.Message // what goes on the wire, in send order
	invalid map[string]string
}

// partitionBalancer sends a message to the partition in its "x-partition"
// header, so a test can put a duplicate on another partition.
type partitionBalancer struct{ fallback kafka.Murmur2Balancer }

func (b *partitionBalancer) Balance(m kafka.Message, partitions ...int) int {
	for _, h := range m.Headers {
		if h.Key == "x-partition" {
			n, _ := strconv.Atoi(string(h.Value))
			return partitions[n%len(partitions)]
		}
	}
	return b.fallback.Balance(m, partitions...)
}

func produce(t *testing.T, brokers []string, topic string, msgs []kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &partitionBalancer{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond,
		Transport: &kafka.Transport{}} // fresh metadata: the topic was just created
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("produce %d messages: %v", len(msgs), err)
	}
}

// makeLoad builds n synthetic events over a few spaces starting `start`,
// then shuffles them (out of order), delivers 3% twice (some on another
// partition, some in a later batch) and mixes in every kind of invalid value.
func makeLoad(n int, start time.Time, seed uint64) sent {
	g := synth.NewGenerator(synth.Load{Events: n, Spaces: 2, Seed: seed, Start: start, Duration: 3 * time.Minute,
		JoinErrorRate: 0.2})
	var enc schemas.JSONEncoder
	s := sent{invalid: map[string]string{}}
	var ev schemas.Event
	rng := rand.New(rand.NewPCG(seed, 7))
	for g.Next(&ev) {
		e := ev.Clone()
		s.events = append(s.events, e)
		key, _ := e.SessionID.MarshalText()
		hs := []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
		if rng.IntN(4) == 0 { // a quarter as Protobuf
			v, _ := schemas.MarshalProto(&e)
			s.msgs = append(s.msgs, kafka.Message{Key: key, Value: v,
				Headers: []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeProtobuf)}}})
		} else {
			s.msgs = append(s.msgs, kafka.Message{Key: key, Value: enc.AppendJSON(nil, &e), Headers: hs})
		}
	}
	rng.Shuffle(len(s.msgs), func(i, j int) { s.msgs[i], s.msgs[j] = s.msgs[j], s.msgs[i] })
	dups := len(s.msgs) * 3 / 100
	for i := range dups {
		m := s.msgs[rng.IntN(len(s.msgs))]
		m.Headers = append(append([]kafka.Header(nil), m.Headers...),
			kafka.Header{Key: "x-partition", Value: []byte(strconv.Itoa(i))})
		s.msgs = append(s.msgs, m)
	}
	id := func(i int) string { return "6f1c0a4e-3a8b-4f7e-9d2a-" + strconv.Itoa(100000000000+i) }
	base := func(i int) string {
		return `"event_id":"` + id(i) + `","space_id":"bad","session_id":"b3e1f0d2-8c4a-4b7e-a1d9-5f6e7c8b9a0d","user_id":"u"`
	}
	ts := strconv.FormatInt(start.UnixMilli(), 10)
	bad := []struct{ value, ct, reason string }{
		{`{"kind":"join",`, "", "malformed JSON"},
		{"{" + base(1) + `,"kind":"join","ts":"` + ts + `x"}`, "", "ts:"},
		{"{" + base(2) + `,"kind":"join","ts":` + ts + `,"attempt":"two"}`, "", "attempt: want an integer"},
		{`{"kind":"join","ts":` + ts + `}`, "", "event_id: missing"},
		{"{" + base(3) + `,"kind":"teleport","ts":` + ts + `}`, "", "unknown kind"},
		{"{" + base(4) + `,"kind":"join","ts":1000}`, "", "before 2006-01-01"},
		{"{" + base(5) + `,"kind":"join","ts":` + strconv.FormatInt(time.Now().Add(48*time.Hour).UnixMilli(), 10) + `}`, "", "future"},
		{"{" + base(6) + `,"kind":"join","ts":` + ts + `,"pad":"` + strings.Repeat("x", 70_000) + `"}`, "", "64 KiB"},
		{"{" + base(7) + `,"kind":"join","ts":` + ts + `,"client":"` + "\xff\xfe" + `"}`, "", "UTF-8"},
		{"{" + base(8) + `,"kind":"join","ts":` + ts + `}`, "text/csv", "unknown content-type"},
		{"{" + base(9) + `,"kind":"error","ts":` + ts + `,"phase":"join","code":"timeout","http_status":999}`, "", "http_status"},
		{"\x0a\x03abc\xff", schemas.ContentTypeProtobuf, "malformed Protobuf"},
	}
	for i, b := range bad {
		hs := []kafka.Header{{Key: "x-test-id", Value: []byte(strconv.Itoa(i))}}
		if b.ct != "" {
			hs = append(hs, kafka.Header{Key: "content-type", Value: []byte(b.ct)})
		}
		s.invalid[strconv.Itoa(i)] = b.reason
		at := rng.IntN(len(s.msgs))
		s.msgs = append(s.msgs[:at], append([]kafka.Message{{Key: []byte("k"), Value: []byte(b.value), Headers: hs}}, s.msgs[at:]...)...)
	}
	return s
}

// checkFigures compares what ClickHouse reports for every space with a
// brute-force count over the distinct events sent.
func checkFigures(t *testing.T, conn warehouse.Querier, events []schemas.Event) {
	t.Helper()
	ctx := context.Background()
	bySpace := map[string][]schemas.Event{}
	for _, e := range events {
		bySpace[e.SpaceID] = append(bySpace[e.SpaceID], e)
	}
	for space, evs := range bySpace {
		first, last := evs[0].TS, evs[0].TS
		for _, e := range evs {
			first, last = min(first, e.TS), max(last, e.TS)
		}
		// A window that starts mid-night: the baseline must be carried in.
		from := time.UnixMilli(first).UTC().Truncate(time.Second).Add(30 * time.Second)
		to := time.UnixMilli(last).UTC().Truncate(time.Second)
		curve, err := warehouse.Concurrency(ctx, conn, space, from, to)
		if err != nil {
			t.Fatalf("concurrency of %s: %v", space, err)
		}
		if want := int(to.Sub(from)/time.Second) + 1; len(curve) != want {
			t.Fatalf("%s: %d points, want one per second (%d)", space, len(curve), want)
		}
		var peak warehouse.Point
		for _, p := range curve {
			var want int64
			for _, e := range evs {
				if e.TS < p.Time.Add(time.Second).UnixMilli() {
					switch e.Kind {
					case schemas.KindJoin:
						want++
					case schemas.KindLeave:
						want--
					}
				}
			}
			if p.Listeners != want {
				t.Fatalf("%s: CCL(%s) = %d, brute force %d", space, p.Time.Format(time.RFC3339), p.Listeners, want)
			}
			if p.Listeners > peak.Listeners {
				peak = p
			}
		}
		sum, err := warehouse.Summary(ctx, conn, space, time.UnixMilli(first), time.UnixMilli(last))
		if err != nil {
			t.Fatalf("summary of %s: %v", space, err)
		}
		var attempts, failures int64
		users := map[string]bool{}
		for _, e := range evs {
			if e.Kind == schemas.KindJoin || e.Kind == schemas.KindError && e.Phase == schemas.PhaseJoin {
				attempts++
			}
			if e.IsTechnicalJoinError() {
				failures++
			}
			if e.Kind == schemas.KindJoin {
				users[e.UserID] = true
			}
		}
		if sum.JoinAttempts != attempts || sum.JoinFailures != failures || sum.UniqueListeners != int64(len(users)) {
			t.Fatalf("%s: summary attempts %d failures %d listeners %d; brute force %d %d %d", space,
				sum.JoinAttempts, sum.JoinFailures, sum.UniqueListeners, attempts, failures, len(users))
		}
		p, err := warehouse.Peak(ctx, conn, space, from, to)
		if err != nil {
			t.Fatalf("peak of %s: %v", space, err)
		}
		if p != peak {
			t.Fatalf("%s: peak %+v, brute force %+v", space, p, peak)
		}
		checkLatency(t, conn, space, evs, sum)
	}
}

// latencyByMinute is the join latency of evs per minute by brute force, in the form of
// latencyAnswer: Unix minute start to "samples p50 p95 p99" (nearest rank).
func latencyByMinute(evs []schemas.Event) map[int64]string {
	byMinute := map[int64][]int64{}
	for _, e := range evs {
		if e.Kind == schemas.KindJoin && e.JoinMS >= 0 {
			m := e.TS / 60_000 * 60
			byMinute[m] = append(byMinute[m], e.JoinMS)
		}
	}
	out := map[int64]string{}
	for m, s := range byMinute {
		slices.Sort(s)
		out[m] = fmt.Sprint(len(s), warehouse.NearestRank(s, 0.5), warehouse.NearestRank(s, 0.95), warehouse.NearestRank(s, 0.99))
	}
	return out
}

// latencyAnswer is the per-minute join latency of space over the whole minutes of [from, to] as
// the plugin reads it (the join-latency rollup), in the form of latencyByMinute.
func latencyAnswer(t *testing.T, conn warehouse.Querier, space string, from, to time.Time) map[int64]string {
	t.Helper()
	lat, err := warehouse.JoinLatency(context.Background(), conn, space, from.Truncate(time.Minute),
		to.Truncate(time.Minute).Add(59*time.Second), time.Minute, "")
	if err != nil {
		t.Fatalf("join latency of %s: %v", space, err)
	}
	out := map[int64]string{}
	for i, tm := range lat.Time {
		out[tm.Unix()] = fmt.Sprint(lat.Samples[i], int64(lat.P50[i]), int64(lat.P95[i]), int64(lat.P99[i]))
	}
	return out
}

// checkLatency compares the join latency of space per minute (the join-latency rollup) and of the
// whole night (the summary's) with the nearest-rank percentiles of evs.
func checkLatency(t *testing.T, conn warehouse.Querier, space string, evs []schemas.Event, sum warehouse.SpaceSummary) {
	t.Helper()
	if got, want := latencyAnswer(t, conn, space, sum.From, sum.To), latencyByMinute(evs); !maps.Equal(got, want) {
		t.Fatalf("%s: join latency per minute differs from brute force (%d minutes, want %d):\n got %.300v\nwant %.300v",
			space, len(got), len(want), got, want)
	}
	var all []int64
	for _, e := range evs {
		if e.Kind == schemas.KindJoin && e.JoinMS >= 0 {
			all = append(all, e.JoinMS)
		}
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	p50, p95, p99 := warehouse.NearestRank(all, 0.5), warehouse.NearestRank(all, 0.95), warehouse.NearestRank(all, 0.99)
	if sum.JoinLatencyP95 == nil || *sum.JoinLatencyP50 != p50 || *sum.JoinLatencyP95 != p95 ||
		*sum.JoinLatencyP99 != p99 || sum.JoinLatencySamples != int64(len(all)) {
		t.Fatalf("%s: summary latency %d samples p50 %v p95 %v p99 %v; brute force %d samples %d %d %d", space,
			sum.JoinLatencySamples, sum.JoinLatencyP50, sum.JoinLatencyP95, sum.JoinLatencyP99, len(all), p50, p95, p99)
	}
}

// readDLQ reads n messages from the dead-letter topic.
func readDLQ(t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: randomName("dlq-reader-"),
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read dead letters: got %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestPipelineExactFiguresAndDeadLetters(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 6)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	load := makeLoad(20_000, start, 1)
	run := startPipeline(t, brokers, topic, dlq, randomName("group-"), ch, conn, nil)

	// Send in two halves so duplicates also span batches and fetches.
	half := len(load.msgs) / 2
	produce(t, brokers, topic, load.msgs[:half])
	produce(t, brokers, topic, load.msgs[half:])
	want := int64(len(load.msgs) - len(load.invalid))
	waitFor(t, "all valid deliveries inserted or dropped as copies, and committed", func() (bool, string) {
		s := run.p.Stats()
		n := s.Events.Load() + s.Duplicates.Load()
		return n == want, describe("%d of %d valid deliveries", n, want)
	})
	if err := run.stop(t); err != nil {
		t.Fatalf("pipeline stopped with %v", err)
	}
	if got := run.p.Stats().Invalid.Load(); got != int64(len(load.invalid)) {
		t.Fatalf("pipeline counted %d invalid events, want %d", got, len(load.invalid))
	}
	// Each event landed once: the copies (3 %, many through another partition) were dropped.
	if got := run.p.Stats().Events.Load(); got != int64(len(load.events)) {
		t.Fatalf("pipeline inserted %d events, want %d (each once)", got, len(load.events))
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(load.events)) {
		t.Fatalf("events holds %d rows, want %d (each event once)", n, len(load.events))
	}
	checkFigures(t, conn, load.events)

	dead := readDLQ(t, brokers, dlq, len(load.invalid))
	for _, m := range dead {
		id := header(m, "x-test-id")
		reason, ok := load.invalid[id]
		if !ok {
			t.Fatalf("unexpected dead letter %q", m.Value)
		}
		if got := header(m, "error"); !strings.Contains(got, reason) {
			t.Fatalf("dead letter %s: error header %q, want it to mention %q", id, got, reason)
		}
		if header(m, "source-topic") != topic || header(m, "source-partition") == "" || header(m, "source-offset") == "" {
			t.Fatalf("dead letter %s lacks source headers: %v", id, m.Headers)
		}
		if string(m.Key) != "k" {
			t.Fatalf("dead letter %s: key %q, want the original", id, m.Key)
		}
		delete(load.invalid, id)
	}
}

// flakyStore inserts, then reports failure for the first `fail` calls: the
// worst case of a crash after ClickHouse took the rows but before the commit.
type flakyStore struct {
	next  blockWriter
	fail  atomic.Int32
	calls atomic.Int32
}

func (f *flakyStore) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	f.calls.Add(1)
	if err := f.next.WriteBlock(ctx, rec, again); err != nil {
		return err
	}
	if f.fail.Add(-1) >= 0 {
		return errors.New("injected: connection lost after the insert")
	}
	return nil
}

// TestReinsertAndRestartCountOnce fails inserts after ClickHouse took the
// rows (the retry must not insert them again) and restarts the consumer
// mid-stream: each event lands once, every figure counts it once, and
// nothing is lost.
func TestReinsertAndRestartCountOnce(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 4)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	load := makeLoad(12_000, time.Now().UTC().Add(-time.Hour).Truncate(time.Second), 2)
	group := randomName("group-")

	flaky := &flakyStore{}
	flaky.fail.Store(3)
	run := startPipeline(t, brokers, topic, dlq, group, ch, conn, func(b blockWriter) blockWriter { flaky.next = b; return flaky })
	produce(t, brokers, topic, load.msgs[:len(load.msgs)/2])
	waitFor(t, "first half committed", func() (bool, string) {
		n := run.p.Stats().Events.Load() + run.p.Stats().Invalid.Load()
		return n > 0 && flaky.fail.Load() < 0, describe("%d landed, %d injected failures left", n, flaky.fail.Load())
	})
	if err := run.stop(t); err != nil {
		t.Fatalf("first consumer stopped with %v", err)
	}
	if run.p.Stats().Retries() < 3 {
		t.Fatalf("only %d retries after 3 injected failures", run.p.Stats().Retries())
	}
	// Every failed call had inserted its rows, and was retried.
	if calls, batches := int64(flaky.calls.Load()), run.p.Stats().Batches.Load(); calls < batches+3 {
		t.Fatalf("%d inserts for %d batches: the test did not re-insert anything", calls, batches)
	}
	// A second consumer of the same group takes over where the first committed.
	run2 := startPipeline(t, brokers, topic, dlq, group, ch, conn, nil)
	produce(t, brokers, topic, load.msgs[len(load.msgs)/2:])
	waitFor(t, "every event in ClickHouse", func() (bool, string) {
		n := count(t, conn, "SELECT uniqExact(event_id) FROM events")
		return n == uint64(len(load.events)), describe("%d of %d distinct events", n, len(load.events))
	})
	if err := run2.stop(t); err != nil {
		t.Fatalf("second consumer stopped with %v", err)
	}
	// The retried inserts and the restart put no second copy into events.
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(load.events)) {
		t.Fatalf("events holds %d rows for %d events, want each once", n, len(load.events))
	}
	checkFigures(t, conn, load.events)
}
