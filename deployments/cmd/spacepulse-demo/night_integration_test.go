package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// TestReplayThroughRealKafkaMatchesGroundTruth replays 1 % of the
// Trump–Musk night — late, out-of-order and duplicated deliveries included —
// through the producer library into the real Kafka broker, consumes it into
// the real ClickHouse, and requires every figure the demo prints, and every
// second of the concurrency curve, to equal the scenario's ground truth.
func TestReplayThroughRealKafkaMatchesGroundTruth(t *testing.T) {
	warehousetest.NeedServer(t)
	brokers := os.Getenv("SPACEPULSE_KAFKA_BROKERS")
	if brokers == "" {
		brokers = "127.0.0.1:9092"
	}
	if c, err := net.DialTimeout("tcp", strings.Split(brokers, ",")[0], 2*time.Second); err != nil {
		if os.Getenv(warehousetest.EnvGate) == "1" {
			t.Fatalf("Kafka at %s does not answer: %v", brokers, err)
		}
		t.Skipf("Kafka at %s does not answer", brokers)
	} else {
		c.Close()
	}
	name := fmt.Sprintf("replay-test-%d", time.Now().UnixNano())
	cfg, err := parse([]string{"-scale", "0.01", "-seed", "3", "-kafka-brokers", brokers, "-kafka-topic", name,
		"-out", t.TempDir(), "-clickhouse-database", "spacepulse_test_" + strings.ReplaceAll(name, "-", "_")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClickHouse.Addr = warehousetest.Config("").Addr
	topic, dlqTopic, group = cfg.Topic, cfg.Topic+".dlq", "spacepulse-demo-"+cfg.Topic
	t.Cleanup(func() {
		ctx := context.Background()
		if srv, err := harness.Connect(ctx, cfg.ClickHouse, nil); err == nil {
			_ = srv.Drop(ctx, cfg.ClickHouse.Database)
			srv.Close()
		}
	})
	var out bytes.Buffer
	ok, err := runNight(context.Background(), cfg, slog.New(slog.DiscardHandler), &out)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	if !ok || !strings.Contains(out.String(), "matches exactly") {
		t.Fatalf("figures differ from the ground truth:\n%s", out.String())
	}
	for _, want := range []string{"page fired 19:5", "nothing paged", "details_not_available"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the story lacks %q:\n%s", want, out.String())
		}
	}
}
