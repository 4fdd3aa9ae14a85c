package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// ownClickHouse starts a ClickHouse server of this test's own (deployments/local/clickhouse.sh
// with its own run directory and ports), so that killing it disturbs no other test, and stops it
// after the test. It returns the native address and a function that kills the server with
// SIGKILL and one that starts it again.
func ownClickHouse(t *testing.T) (addr string, kill, start func()) {
	t.Helper()
	script, err := filepath.Abs("../../deployments/local/clickhouse.sh")
	if err != nil {
		t.Fatal(err)
	}
	// Ports below the kernel's ephemeral range (32768 and up here), so that no client connection
	// of another test can be holding one, and checked free before the server is pointed at them.
	base := 0
	for range 50 {
		if b := 20000 + rand.IntN(12000); portsFree(b, b+1, b+2) {
			base = b
			break
		}
	}
	if base == 0 {
		t.Fatal("no three free ports in 20000-32000 on 127.0.0.1")
	}
	run := t.TempDir()
	env := append(os.Environ(), "SPACEPULSE_RUN_DIR="+run,
		"SPACEPULSE_CLICKHOUSE_PORT="+strconv.Itoa(base), "SPACEPULSE_CLICKHOUSE_HTTP_PORT="+strconv.Itoa(base+1),
		"SPACEPULSE_CLICKHOUSE_TLS_PORT="+strconv.Itoa(base+2))
	sh := func(cmd string) {
		t.Helper()
		c := exec.Command(script, cmd)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("clickhouse.sh %s: %v\n%s", cmd, err, out)
		}
	}
	sh("start")
	t.Cleanup(func() { sh("stop") })
	pidfile := filepath.Join(run, "clickhouse", "clickhouse-server.pid")
	kill = func() {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill clickhouse-server %d: %v", pid, err)
		}
		for syscall.Kill(pid, 0) == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Sprintf("127.0.0.1:%d", base), kill, func() { sh("start") }
}

// TestServerKilledDuringIngestion kills ClickHouse with SIGKILL three times while the consumer
// inserts, restarts it each time, and checks that nothing is lost or stored twice and that every
// figure equals the brute-force one: the consumer's retried inserts insert only what had not
// landed, and reconcile the rollups of the blocks whose insert the server died in (18.16 writes
// a view's part after the table's, so those can be short).
func TestServerKilledDuringIngestion(t *testing.T) {
	brokers, _ := servers(t)
	addr, kill, restart := ownClickHouse(t)
	ch := warehouse.NewConfig()
	ch.Addr, ch.Database = addr, randomName("spacepulse_kill_")
	ctx := t.Context()
	conn, _, err := warehouse.Setup(ctx, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	topic := newTopic(t, brokers, randomName("events-"), 4)
	dlq := newTopic(t, brokers, topic+".dlq", 1)

	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	g := synth.NewGenerator(synth.Load{Events: 150_000, Spaces: 2, Seed: 11, Start: start, Duration: 10 * time.Minute, JoinErrorRate: 0.2})
	var evs []schemas.Event
	var msgs []kafka.Message
	var enc schemas.JSONEncoder
	var ev schemas.Event
	for g.Next(&ev) {
		e := ev.Clone()
		evs = append(evs, e)
		key, _ := e.SessionID.MarshalText()
		msgs = append(msgs, kafka.Message{Key: key, Value: enc.AppendJSON(nil, &e)})
	}
	run := startPipeline(t, brokers, topic, dlq, randomName("group-"), ch, conn, func(b blockWriter) blockWriter {
		b.(*Sink).Reconcile = reconciler(conn, testLogger(t))
		return b
	})
	produce(t, brokers, topic, msgs)
	for i := range 3 {
		// Kill while batches are being inserted.
		waitFor(t, "inserts under way", func() (bool, string) {
			n := run.p.Stats().Events.Load()
			return n > int64(i*len(evs)/6), describe("%d events", n)
		})
		kill()
		time.Sleep(500 * time.Millisecond)
		restart()
	}
	waitFor(t, "every event landed", func() (bool, string) {
		s := run.p.Stats()
		return s.Events.Load()+s.Duplicates.Load() == int64(len(evs)), describe("%d inserted, %d dropped of %d",
			s.Events.Load(), s.Duplicates.Load(), len(evs))
	})
	if err := run.stop(t); err != nil {
		t.Fatalf("pipeline stopped with %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(evs)) {
		t.Fatalf("events holds %d rows for %d events after the kills, want each once", n, len(evs))
	}
	if run.p.Stats().Retries() == 0 {
		t.Fatal("no insert was retried: the kills missed the inserts, the test proves nothing")
	}
	checkFigures(t, conn, evs)
	// Nothing is left for an operator's reconcile either.
	rep, err := warehouse.Reconcile(context.Background(), conn, start.Add(-time.Minute), start.Add(11*time.Minute), time.Second)
	if err != nil || rep != (warehouse.Repair{}) {
		t.Fatalf("Reconcile after the run = %+v, %v; want nothing left to correct", rep, err)
	}
	t.Logf("%d retries over 3 kills; %d events once each", run.p.Stats().Retries(), len(evs))
}

// portsFree reports whether every port can be listened on at 127.0.0.1 now.
func portsFree(ports ...int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
