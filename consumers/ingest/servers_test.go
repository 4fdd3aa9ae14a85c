package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// Integration tests need a real Kafka broker (SPACEPULSE_KAFKA_BROKERS,
// default 127.0.0.1:9092) and a real ClickHouse (SPACEPULSE_CLICKHOUSE_ADDR,
// default 127.0.0.1:9000). SPACEPULSE_INTEGRATION gates them: unset runs
// them when both answer and skips otherwise, 0 skips, 1 requires them (make
// test sets 1, so CI never skips).
func servers(t *testing.T) (brokers []string, ch warehouse.Config) {
	t.Helper()
	gate := os.Getenv("SPACEPULSE_INTEGRATION")
	if gate == "0" {
		t.Skip("SPACEPULSE_INTEGRATION=0")
	}
	broker := envOr("SPACEPULSE_KAFKA_BROKERS", "127.0.0.1:9092")
	ch = warehouse.NewConfig()
	ch.Addr = envOr("SPACEPULSE_CLICKHOUSE_ADDR", "127.0.0.1:9000")
	for _, addr := range []string{broker, ch.Addr} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			if gate == "1" {
				t.Fatalf("SPACEPULSE_INTEGRATION=1 but %s does not answer: %v (start it with deployments/local/up.sh)", addr, err)
			}
			t.Skipf("%s does not answer (set SPACEPULSE_INTEGRATION=1 to require it)", addr)
		}
		c.Close()
	}
	return []string{broker}, ch
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newTopic creates a topic with n partitions (and the given topic configs) and deletes it after
// the test.
func newTopic(t *testing.T, brokers []string, name string, n int, configs ...kafka.ConfigEntry) string {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatalf("dial kafka: %v", err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("find controller: %v", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	defer cc.Close()
	// Replicated as the cluster's brokers require (min ISR 2 there), once on a single broker.
	bs, err := conn.Brokers()
	if err != nil {
		t.Fatalf("list brokers: %v", err)
	}
	rf := min(3, len(bs))
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: name, NumPartitions: n, ReplicationFactor: rf, ConfigEntries: configs}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	// Creation returns before every broker knows the topic: wait for it.
	waitFor(t, "topic "+name+" in the metadata", func() (bool, string) {
		ps, err := conn.ReadPartitions(name)
		return err == nil && len(ps) == n, describe("%d partitions, %v", len(ps), err)
	})
	t.Cleanup(func() {
		if c, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port))); err == nil {
			_ = c.DeleteTopics(name)
			c.Close()
		}
	})
	return name
}

// newDatabase migrates a fresh database, dropped after the test.
func newDatabase(t *testing.T, _ warehouse.Config) (warehouse.Config, driver.Conn) {
	t.Helper()
	conn, cfg := warehousetest.NewDatabase(t)
	return cfg, conn
}

// running is a pipeline started by a test.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's error, set before done is closed
	p      *Pipeline
}

// stop cancels the pipeline and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not stop within 60s")
		return nil
	}
}

// startPipeline runs a pipeline on a real consumer group; store wraps the
// real sink when the test injects faults (nil: the sink itself).
func startPipeline(t *testing.T, brokers []string, topic, dlq, group string, ch warehouse.Config, conn driver.Conn,
	wrap func(blockWriter) blockWriter, opts ...func(*Config)) *running {
	t.Helper()
	logger := testLogger(t)
	r, err := NewGroupReader(brokers, group, topic, logger)
	if err != nil {
		t.Fatal(err)
	}
	w := NewDLQWriter(brokers, dlq, logger)
	sink := NewSink(conn, ch.Database)
	if ch.Cluster != "" {
		sink = NewClusterSink(conn, ch.Database)
	}
	var store blockWriter = sink
	if wrap != nil {
		store = wrap(store)
	}
	cfg := Config{Topic: topic, DLQTopic: dlq, BatchRows: 5_000, BatchAge: 200 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Logger: logger, Landed: LandedFrom(conn)}
	for _, o := range opts {
		o(&cfg)
	}
	p := New(cfg, r, store, w)
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cancel: cancel, done: make(chan struct{}), p: p}
	go func() {
		defer close(run.done)
		run.err = p.Run(ctx)
		r.Close()
		w.Close()
	}()
	t.Cleanup(func() { cancel(); <-run.done })
	return run
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// waitFor polls cond until it holds or 60s pass.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state: %s", what, last)
}

func count(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func describe(format string, args ...any) string { return fmt.Sprintf(format, args...) }
