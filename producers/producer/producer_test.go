package producer

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// broker returns the real Kafka broker of SPACEPULSE_KAFKA_BROKERS under the
// SPACEPULSE_INTEGRATION gate (unset: run if reachable; 0: skip; 1: must run).
func broker(t *testing.T) string {
	t.Helper()
	gate := os.Getenv("SPACEPULSE_INTEGRATION")
	if gate == "0" {
		t.Skip("SPACEPULSE_INTEGRATION=0")
	}
	addr := os.Getenv("SPACEPULSE_KAFKA_BROKERS")
	if addr == "" {
		addr = "127.0.0.1:9092"
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if gate == "1" {
			t.Fatalf("SPACEPULSE_INTEGRATION=1 but Kafka at %s does not answer: %v", addr, err)
		}
		t.Skipf("Kafka at %s does not answer", addr)
	}
	c.Close()
	return addr
}

func newTopic(t *testing.T, addr string, partitions int) string {
	t.Helper()
	name := "producer-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		ps, err := conn.ReadPartitions(name)
		if err == nil && len(ps) == partitions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s not in metadata: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { _ = conn.DeleteTopics(name) })
	return name
}

func TestProduceDeliversKeyedEvents(t *testing.T) {
	addr := broker(t)
	topic := newTopic(t, addr, 4)
	p, err := New(Config{Brokers: []string{addr}, Topic: topic, Transport: &kafka.Transport{}})
	if err != nil {
		t.Fatal(err)
	}
	g := synth.NewGenerator(synth.Load{Events: 5_000, Seed: 3, Start: time.Now().Add(-time.Hour)})
	var ev schemas.Event
	want := map[string]schemas.Event{}
	for i := 0; g.Next(&ev); i++ {
		e := ev.Clone()
		if i%2 == 1 {
			err = p.TryProduce(&e)
			for errors.Is(err, ErrBufferFull) {
				time.Sleep(time.Millisecond)
				err = p.TryProduce(&e)
			}
		} else {
			err = p.Produce(context.Background(), &e)
		}
		if err != nil {
			t.Fatalf("produce event %d: %v", i, err)
		}
		want[e.EventID.String()] = e
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if p.Sent() != int64(len(want)) || p.Failed() != 0 {
		t.Fatalf("sent %d failed %d, want %d sent", p.Sent(), p.Failed(), len(want))
	}
	if err := p.Produce(context.Background(), &ev); !errors.Is(err, ErrClosed) {
		t.Fatalf("Produce after Close: %v, want ErrClosed", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, GroupID: topic + "-check",
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dec := schemas.NewDecoder()
	partitionOf := map[string]int{}
	for range len(want) {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		var got schemas.Event
		if err := dec.Decode(string(m.Headers[0].Value), m.Value, &got, time.Now()); err != nil {
			t.Fatalf("read back an invalid event %s: %v", m.Value, err)
		}
		w, ok := want[got.EventID.String()]
		if !ok || got.Clone() != w {
			t.Fatalf("read back %+v, not what was sent", got)
		}
		delete(want, got.EventID.String())
		if string(m.Key) != got.SessionID.String() {
			t.Fatalf("key %q, want the session id %s", m.Key, got.SessionID)
		}
		if p, seen := partitionOf[string(m.Key)]; seen && p != m.Partition {
			t.Fatalf("session %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		partitionOf[string(m.Key)] = m.Partition
	}
}

func TestDeliveryFailuresAreReported(t *testing.T) {
	// Nothing listens on this port: every write fails, fast.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	var reported atomic.Int64
	p, err := New(Config{Brokers: []string{dead}, Buffer: 10, Flushers: 1, MaxAttempts: 1,
		WriteTimeout: time.Second, OnError: func(kafka.Message, error) { reported.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	g := synth.NewGenerator(synth.Load{Events: 1000, Seed: 4, Start: time.Now().Add(-time.Hour)})
	var ev schemas.Event
	queued, full := 0, 0
	for g.Next(&ev) {
		switch err := p.TryProduce(&ev); {
		case err == nil:
			queued++
		case errors.Is(err, ErrBufferFull):
			full++
		default:
			t.Fatalf("TryProduce: %v", err)
		}
	}
	if full == 0 {
		t.Fatalf("a 10-event buffer took all 1000 events while Kafka was unreachable")
	}
	err = p.Close()
	var de *DeliveryError
	if !errors.As(err, &de) || de.Failed != int64(queued) {
		t.Fatalf("Close: %v, want a DeliveryError for the %d queued events", err, queued)
	}
	if reported.Load() != int64(queued) {
		t.Fatalf("OnError called %d times for %d lost events", reported.Load(), queued)
	}
}

func TestProduceRejectsInvalidEvents(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ev := schemas.Event{Kind: schemas.KindJoin, TS: time.Now().UnixMilli(), SpaceID: "s", UserID: "u"}
	if err := p.Produce(context.Background(), &ev); !errors.Is(err, schemas.ErrInvalid) {
		t.Fatalf("an event without session_id: %v, want ErrInvalid", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without brokers did not fail")
	}
}
