package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// proxy forwards loopback connections to a real server until cut, which closes the listener
// and every connection: the server becomes unreachable, as if it were down.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.cut {
				c.Close()
				s.Close()
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// logBuffer keeps what a logger wrote, for a test to wait for a line.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *logBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// TestConsumerDrainGivesUpWhenClickHouseIsGone: ClickHouse becomes unreachable while a batch is
// in hand; on shutdown RunConsumer drains for DrainTimeout, then returns ErrDrainIncomplete saying
// how many fetched messages were left uncommitted (spacepulse-consumer exits 1 with it), instead
// of a clean stop.
func TestConsumerDrainGivesUpWhenClickHouseIsGone(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("drain-"), 2)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	px := newProxy(t, ch.Addr)
	ch.Addr = px.addr()
	logs := &logBuffer{t: t}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := ConsumerConfig{Kafka: endpoint.Kafka{Brokers: brokers}, Group: randomName("group-"), ClickHouse: ch,
		Pipeline: Config{Topic: topic, DLQTopic: dlq, BatchAge: 200 * time.Millisecond, DrainTimeout: 3 * time.Second,
			RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunConsumer(ctx, cfg, logger) }()

	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	first := makeLoad(1_000, start, 6)
	produce(t, brokers, topic, first.msgs)
	waitFor(t, "the first events landed through the proxy", func() (bool, string) {
		n := count(t, conn, "SELECT count() FROM events")
		return n == uint64(len(first.events)), describe("%d of %d", n, len(first.events))
	})
	px.close() // ClickHouse is gone for the consumer
	produce(t, brokers, topic, makeLoad(1_000, start.Add(10*time.Minute), 7).msgs)
	waitFor(t, "an insert failing against the unreachable server", func() (bool, string) {
		return logs.has(`step="insert into clickhouse"`), "no failed insert logged yet"
	})
	stopped := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("RunConsumer did not return within 60s of the stop")
	}
	t.Logf("RunConsumer returned %s after the stop (DrainTimeout %s): %v", time.Since(stopped).Round(time.Millisecond),
		cfg.Pipeline.DrainTimeout, err)
	if !errors.Is(err, ErrDrainIncomplete) || !strings.Contains(err.Error(), "fetched messages uncommitted") {
		t.Fatalf("RunConsumer returned %v, want ErrDrainIncomplete with the messages left uncommitted", err)
	}
}
