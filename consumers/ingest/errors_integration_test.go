package ingest

import (
	"context"
	crand "crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
)

// TestPipelineDeadLettersRowsClickHouseRefuses: a batch holding events the real server refuses
// lands its other events once and sends the refused ones to the dead-letter topic with their
// original message and ClickHouse's message, and the pipeline goes on.
//
// The contract's validation and the events table agree on every field (no valid event is
// refused by the stock schema), so the test database gets one test-only column computed at
// insert, refuse_check Int32 MATERIALIZED toInt32(space_id) for spaces named poison*: 18.16
// computes it before writing anything and refuses the whole block with code 6
// (CANNOT_PARSE_TEXT: Cannot parse string 'poison-…' as Int32), as it would a value it cannot
// store in a column. The insert, the split and the dead letters are the production code's.
func TestPipelineDeadLettersRowsClickHouseRefuses(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 3)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	if err := conn.Exec(context.Background(), "ALTER TABLE "+quoteIdent(ch.Database)+
		".events ADD COLUMN refuse_check Int32 MATERIALIZED toInt32(if(space_id LIKE 'poison%', space_id, '0'))"); err != nil {
		t.Fatalf("add the refusing column: %v", err)
	}
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	load := makeLoad(5_000, start, 3)

	// Poison events, valid by the contract, spread through the load (some in the same batch).
	var enc schemas.JSONEncoder
	poison := map[string]kafka.Message{} // by event id
	for i := range 5 {
		e := load.events[i*900]
		e.EventID, e.SpaceID = uuid.New(), "poison-"+strconv.Itoa(i)
		key, _ := e.SessionID.MarshalText()
		m := kafka.Message{Key: key, Value: enc.AppendJSON(nil, &e), Headers: []kafka.Header{
			{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}, {Key: "x-poison", Value: []byte(strconv.Itoa(i))}}}
		poison[e.EventID.String()] = m
		at := i * len(load.msgs) / 5
		load.msgs = append(load.msgs[:at], append([]kafka.Message{m}, load.msgs[at:]...)...)
	}
	run := startPipeline(t, brokers, topic, dlq, randomName("group-"), ch, conn, nil,
		func(c *Config) { c.Originals = OriginalsFrom(brokers, nil) })
	produce(t, brokers, topic, load.msgs)
	wantValid := int64(len(load.msgs) - len(load.invalid) - len(poison))
	wantDead := int64(len(load.invalid) + len(poison))
	waitFor(t, "every valid delivery landed or dropped, every refused one dead-lettered, all committed", func() (bool, string) {
		s := run.p.Stats()
		n, d := s.Events.Load()+s.Duplicates.Load(), s.Invalid.Load()
		return n == wantValid && d == wantDead, describe("%d of %d valid, %d of %d dead", n, wantValid, d, wantDead)
	})
	if err := run.stop(t); err != nil {
		t.Fatalf("pipeline stopped with %v", err)
	}
	if got := run.p.Stats().Events.Load(); got != int64(len(load.events)) {
		t.Fatalf("pipeline inserted %d events, want %d (each once, none refused)", got, len(load.events))
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(load.events)) {
		t.Fatalf("events holds %d rows, want %d", n, len(load.events))
	}
	checkFigures(t, conn, load.events) // the rollups count the landed events only, each once

	found := 0
	for _, m := range readDLQ(t, brokers, dlq, int(wantDead)) {
		if header(m, "x-poison") == "" {
			continue
		}
		found++
		var ev schemas.Event
		if err := schemas.NewDecoder().Decode(schemas.ContentTypeJSON, m.Value, &ev, time.Now()); err != nil {
			t.Fatalf("dead letter %q: %v", m.Value, err)
		}
		orig, ok := poison[ev.EventID.String()]
		if !ok || string(orig.Value) != string(m.Value) || string(orig.Key) != string(m.Key) {
			t.Fatalf("dead letter %s: not the original message", ev.EventID)
		}
		reason := header(m, "error")
		if !strings.HasPrefix(reason, "clickhouse_rejected: CANNOT_PARSE_TEXT: Cannot parse string '"+ev.SpaceID+"' as Int32") {
			t.Fatalf("dead letter %s: error header %q, want ClickHouse's refusal", ev.EventID, reason)
		}
		if header(m, "source-topic") != topic || header(m, "source-offset") == "" || header(m, ReencodedHeader) != "" {
			t.Fatalf("dead letter %s: headers %v", ev.EventID, m.Headers)
		}
	}
	if found != len(poison) {
		t.Fatalf("%d refused events in the dead-letter topic, want %d", found, len(poison))
	}
}

// TestPipelineCutsDeadLettersTooLargeForTheTopic: the measured stall of issue 9 (a 2,097,000-byte
// value, which the broker takes on the input topic, made every dead-letter write fail and 990
// valid events behind it never landed), and a dead-letter topic whose max.message.bytes is
// smaller than an input value: both letters are cut to 64 KiB with the header saying so, and the
// valid events behind them land.
func TestPipelineCutsDeadLettersTooLargeForTheTopic(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 1)
	dlq := newTopic(t, brokers, topic+".dlq", 1, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "200000"})
	ch, conn := newDatabase(t, ch)
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	load := makeLoad(990, start, 4)
	var valid []kafka.Message
	for _, m := range load.msgs {
		if m.Headers[0].Key == "content-type" && m.Headers[len(m.Headers)-1].Key != "x-partition" { // not the invalid ones, no copies
			valid = append(valid, m)
		}
	}
	if len(valid) != 990 {
		t.Fatalf("%d valid messages, want 990", len(valid))
	}
	big := func(n int, id string) kafka.Message {
		v := make([]byte, n)
		_, _ = crand.Read(v) // random: no compression makes it fit
		return kafka.Message{Key: []byte("big-" + id), Value: v, Headers: []kafka.Header{{Key: "x-big", Value: []byte(id)}}}
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchBytes: 4 << 20, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	send := func(ms ...kafka.Message) {
		t.Helper()
		if err := w.WriteMessages(context.Background(), ms...); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	run := startPipeline(t, brokers, topic, dlq, randomName("group-"), ch, conn, nil)
	// Over the writer's 1 MB batches (kafka-go refuses it before sending), then, in a later
	// batch, over the topic's 200,000 bytes (the broker refuses it), each followed by valid events.
	send(big(2_097_000, "a"))
	send(valid[:495]...)
	waitFor(t, "the first half landed", func() (bool, string) {
		s := run.p.Stats()
		return s.Events.Load() == 495 && s.Invalid.Load() == 1, describe("%d events, %d dead", s.Events.Load(), s.Invalid.Load())
	})
	send(big(300_000, "b"))
	send(valid[495:]...)
	waitFor(t, "990 valid events landed and 2 dead letters committed", func() (bool, string) {
		s := run.p.Stats()
		return s.Events.Load() == 990 && s.Invalid.Load() == 2, describe("%d events, %d dead", s.Events.Load(), s.Invalid.Load())
	})
	if err := run.stop(t); err != nil {
		t.Fatalf("pipeline stopped with %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != 990 {
		t.Fatalf("events holds %d rows, want 990", n)
	}
	sizes := map[string]string{"a": "2097000", "b": "300000"}
	for _, m := range readDLQ(t, brokers, dlq, 2) {
		id := header(m, "x-big")
		if len(m.Value) != DeadLetterMaxValue || header(m, TruncatedHeader) != sizes[id] || string(m.Key) != "big-"+id ||
			!strings.Contains(header(m, "error"), "64 KiB") {
			t.Fatalf("dead letter %q: %d bytes, %s %q, error %q; want %d bytes, the original size %s and the reason",
				id, len(m.Value), TruncatedHeader, header(m, TruncatedHeader), header(m, "error"), DeadLetterMaxValue, sizes[id])
		}
		delete(sizes, id)
	}
	if len(sizes) != 0 {
		t.Fatalf("dead letters missing: %v", sizes)
	}
}
