package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/producers/scenario"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// TestReplayThroughRealKafkaMatchesGroundTruth replays 1 % of the
// Trump–Musk night — late, out-of-order and duplicated deliveries included —
// through the producer library into the real Kafka broker, consumes it into
// the real ClickHouse, and requires every figure the demo prints, and every
// second of the concurrency curve, to equal the scenario's ground truth.
func TestReplayThroughRealKafkaMatchesGroundTruth(t *testing.T) {
	out := replayNight(t, "trump-musk-2024")
	for _, want := range []string{"page fired 19:5", "nothing paged", "details_not_available",
		// the plateau and the planned end (leaves with reason ended) are no crash
		"listeners down > 30 % within 2 min, no room end: never fired",
		// the failure window's retry storm (measured here: 20:03-20:14 and 20:17-20:31)
		"retry amplification > 2 for 3 min: fired 20:0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the story lacks %q:\n%s", want, out)
		}
	}
}

// replayNight replays scenario (a name or a YAML path) at 1 % through the real Kafka broker
// into a ClickHouse database of its own, requires every figure to equal the ground truth, and
// returns what the demo printed.
func replayNight(t *testing.T, night string) string {
	t.Helper()
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
	cfg, err := parse([]string{"-scenario", night, "-scale", "0.01", "-seed", "3", "-kafka-brokers", brokers, "-kafka-topic", name,
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
	return out.String()
}

// TestDesantisCrashPage replays the DeSantis launch: its crash loops drop 25 % of room A's
// sessions at 18:04, 18:09 and 18:14 (as the scenario defines them), which is under the crash
// page's 30 %, so the page must stay silent, the kill at 18:20 (a room end) included; the same
// night with crashes of 35 % must page at the end of each crash minute and not at the kill.
func TestDesantisCrashPage(t *testing.T) {
	const crash = "listeners down > 30 % within 2 min, no room end"
	out := replayNight(t, "desantis-2023")
	if strings.Count(out, crash+": never fired") != 2 {
		t.Fatalf("the crash page fired on 25 %% crashes or a room end:\n%s", out)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(crash) + `: never fired \(largest, room ends aside: ([0-9.]+) % fall in minute (18:(04|09|14)):00\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("room A's largest fall (its end aside) should be a crash at 18:04, 18:09 or 18:14:\n%s", out)
	}
	if fall, _ := strconv.ParseFloat(m[1], 64); fall < 20 || fall > 30 {
		t.Fatalf("room A's crash at %s fell %s %%: want about 25 %%", m[2], m[1])
	}
	t.Logf("room A's largest fall, its end aside: %s %% at %s", m[1], m[2])

	yaml, err := scenario.Builtin("desantis-2023")
	if err != nil {
		t.Fatal(err)
	}
	deeper := strings.ReplaceAll(string(yaml), "drop: 0.25", "drop: 0.35")
	if strings.Count(deeper, "drop: 0.35") != 3 {
		t.Fatal("desantis-2023.yaml no longer has its three crashes of drop 0.25")
	}
	path := filepath.Join(t.TempDir(), "desantis-deeper.yaml")
	if err := os.WriteFile(path, []byte(deeper), 0o644); err != nil {
		t.Fatal(err)
	}
	out = replayNight(t, path)
	for _, at := range []string{"18:05", "18:10", "18:15"} {
		if !strings.Contains(out, crash+": fired "+at) {
			t.Fatalf("35 %% crashes: no crash page at %s:\n%s", at, out)
		}
	}
	if strings.Count(out, crash+": fired") != 3 {
		t.Fatalf("35 %% crashes: want exactly the three crash pages:\n%s", out)
	}
}
