package ingest

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerBinaryDrainsOnSIGTERM runs the real spacepulse-consumer with
// batches that never fill, sends SIGTERM, and checks it exits 0 after
// inserting and committing everything it had fetched.
func TestConsumerBinaryDrainsOnSIGTERM(t *testing.T) {
	brokers, ch := servers(t)
	bin := filepath.Join(t.TempDir(), "spacepulse-consumer")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/spacepulse-consumer").CombinedOutput(); err != nil {
		t.Fatalf("build consumer: %v: %s", err, out)
	}
	topic := newTopic(t, brokers, randomName("sigterm-"), 3)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	load := makeLoad(2_000, time.Now().UTC().Add(-time.Hour).Truncate(time.Second), 5)
	produce(t, brokers, topic, load.msgs)
	group := randomName("group-")

	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the metrics
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	var stderr strings.Builder
	cmd := exec.Command(bin, "-batch-rows", "1000000", "-batch-age", "1h", "-batch-quiet", "0", "-log-level", "debug", "-metrics-addr", metricsAddr)
	cmd.Env = append(os.Environ(),
		"SPACEPULSE_KAFKA_BROKERS="+brokers[0], "SPACEPULSE_KAFKA_TOPIC="+topic, "SPACEPULSE_DLQ_TOPIC="+dlq,
		"SPACEPULSE_KAFKA_GROUP="+group, "SPACEPULSE_CLICKHOUSE_ADDR="+ch.Addr, "SPACEPULSE_CLICKHOUSE_DATABASE="+ch.Database)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Wait until the consumer owns the partitions, then give it time to fetch.
	// (kafka-go's DescribeGroups lists no member of a group using kgo's cooperative-sticky
	// balancer: it cannot decode the member metadata. kmsg can.)
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	waitFor(t, "the consumer to join its group", func() (bool, string) {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		res, err := req.RequestWith(context.Background(), admin)
		if err != nil || len(res.Groups) == 0 {
			return false, describe("%v", err)
		}
		g := res.Groups[0]
		return g.State == "Stable" && len(g.Members) == 1, describe("state %s, %d members", g.State, len(g.Members))
	})
	time.Sleep(3 * time.Second)
	// Nothing can land before SIGTERM: the batch neither fills nor ages.
	if n := count(t, conn, "SELECT count() FROM events"); n != 0 {
		t.Fatalf("%d rows landed before SIGTERM with a 1h batch age", n)
	}
	// The metrics say the same: nothing landed yet.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"spacepulse_consumer_events_total 0", "spacepulse_consumer_lag_messages", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consumer exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("consumer did not exit within 60s of SIGTERM:\n%s", stderr.String())
	}
	// Distinct ids, not count(): merges may already have folded duplicate rows.
	if n := count(t, conn, "SELECT uniqExact(event_id) FROM events"); n != uint64(len(load.events)) {
		t.Fatalf("after SIGTERM %d distinct events, want every valid event (%d):\n%s", n, len(load.events), stderr.String())
	}
	checkFigures(t, conn, load.events)

	// The offsets were committed: a new member of the group finds nothing to do.
	run := startPipeline(t, brokers, topic, dlq, group, ch, conn, nil)
	time.Sleep(3 * time.Second)
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	if s := run.p.Stats(); s.Events.Load()+s.Invalid.Load() != 0 {
		t.Fatalf("after a clean SIGTERM the group re-read %d events: offsets were not committed",
			s.Events.Load()+s.Invalid.Load())
	}
}
