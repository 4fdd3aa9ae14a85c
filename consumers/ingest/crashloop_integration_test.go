package ingest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/schemas"
)

// TestCrashLoopCommitRate measures how a consumer group commits while one member crash-loops,
// with real spacepulse-consumer processes against the real broker and ClickHouse. It is a
// measurement, not a check, and runs only with SPACEPULSE_CRASHLOOP=1 (it takes about 2.5
// minutes):
//
//	SPACEPULSE_CRASHLOOP=1 SPACEPULSE_CRASHLOOP_KILL_EVERY=5s \
//	SPACEPULSE_CRASHLOOP_BINARY=/tmp/spacepulse-consumer SPACEPULSE_CRASHLOOP_DATABASE=h4_crash \
//	go test -count=1 -v -timeout 10m -run TestCrashLoopCommitRate ./consumers/ingest/
//
// A producer writes SPACEPULSE_CRASHLOOP_RATE events a second (default 2000) to a new topic of 6
// partitions; 3 consumers (the binary, default: built from this tree) share a new group and write
// to SPACEPULSE_CRASHLOOP_DATABASE (migrated beforehand with spacepulse-migrate). After 20 s of
// warm-up it reads the group's committed offsets from the broker, then for 2 minutes SIGKILLs one
// member every KILL_EVERY (round robin; 0: none, the undisturbed run) and restarts it at once,
// then reads the committed offsets again. It logs the committed rate and the produced rate.
// SPACEPULSE_CRASHLOOP_ARGS are more flags for every member, split on spaces, with {i} replaced by
// the member's number (0-2), e.g. a static member's instance id once a flag binds it.
func TestCrashLoopCommitRate(t *testing.T) {
	if os.Getenv("SPACEPULSE_CRASHLOOP") != "1" {
		t.Skip("a 2.5-minute measurement: set SPACEPULSE_CRASHLOOP=1")
	}
	brokers, ch := servers(t)
	database := envOr("SPACEPULSE_CRASHLOOP_DATABASE", "h4_crash")
	rate, _ := strconv.Atoi(envOr("SPACEPULSE_CRASHLOOP_RATE", "2000"))
	every, err := time.ParseDuration(envOr("SPACEPULSE_CRASHLOOP_KILL_EVERY", "5s"))
	if err != nil {
		t.Fatal(err)
	}
	binary := os.Getenv("SPACEPULSE_CRASHLOOP_BINARY")
	dir := t.TempDir()
	if binary == "" {
		binary = filepath.Join(dir, "spacepulse-consumer")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/spacepulse-consumer").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	const partitions, window = 6, 2 * time.Minute
	topic := newTopic(t, brokers, randomName("crash-"), partitions)
	group := randomName("crash-group-")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var produced sync.WaitGroup
	produced.Add(1)
	var sent int64
	go func() { defer produced.Done(); sent = produceSteadily(ctx, t, brokers, topic, rate) }()

	members := make([]*exec.Cmd, 3)
	start := func(i int) {
		log, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("member%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"-kafka-brokers", brokers[0], "-kafka-topic", topic, "-dlq-topic", topic + ".dlq",
			"-kafka-group", group, "-clickhouse-addr", ch.Addr, "-clickhouse-database", database, "-log-level", "warn"}
		for _, a := range strings.Fields(os.Getenv("SPACEPULSE_CRASHLOOP_ARGS")) {
			args = append(args, strings.ReplaceAll(a, "{i}", strconv.Itoa(i)))
		}
		cmd := exec.Command(binary, args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		log.Close()
		members[i] = cmd
	}
	stop := func(i int, sig syscall.Signal) {
		_ = members[i].Process.Signal(sig)
		_ = members[i].Wait()
	}
	for i := range members {
		start(i)
	}
	defer func() {
		for i := range members {
			stop(i, syscall.SIGTERM)
		}
	}()
	time.Sleep(20 * time.Second) // warm-up: the group forms and catches up
	c0, t0 := committedSum(t, brokers, group, topic, partitions), time.Now()
	kills := 0
	for time.Since(t0) < window {
		if every <= 0 {
			time.Sleep(time.Second)
			continue
		}
		time.Sleep(every)
		i := kills % len(members)
		stop(i, syscall.SIGKILL)
		start(i)
		kills++
	}
	c1, t1 := committedSum(t, brokers, group, topic, partitions), time.Now()
	cancel()
	produced.Wait()
	secs := t1.Sub(t0).Seconds()
	t.Logf("binary %s %s, kill every %s: %d kills; committed %d messages in %.1f s = %.0f/s; produced %d in all at %d/s",
		binary, os.Getenv("SPACEPULSE_CRASHLOOP_ARGS"), every, kills, c1-c0, secs, float64(c1-c0)/secs, sent, rate)
}

// produceSteadily writes rate valid events a second to topic until ctx ends, and returns how
// many it wrote.
func produceSteadily(ctx context.Context, t *testing.T, brokers []string, topic string, rate int) int64 {
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Error(err)
		return 0
	}
	defer prod.Close()
	var enc schemas.JSONEncoder
	hs := []kgo.RecordHeader{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var n int64
	for {
		select {
		case <-ctx.Done():
			_ = prod.Flush(context.Background())
			return n
		case <-tick.C:
		}
		for range rate / 10 {
			ev := schemas.Event{EventID: uuid.New(), Kind: schemas.KindJoin, SpaceID: "crash-room", SessionID: uuid.New(),
				TS: time.Now().UnixMilli(), UserID: "u" + strconv.FormatInt(n%1000, 10), Role: schemas.RoleListener, JoinMS: 300}
			key, _ := ev.SessionID.MarshalText()
			prod.Produce(ctx, &kgo.Record{Key: key, Value: enc.AppendJSON(nil, &ev), Headers: hs}, nil)
			n++
		}
	}
}

// committedSum is the sum of group's committed offsets over topic's partitions (none: 0).
func committedSum(t *testing.T, brokers []string, group, topic string, partitions int) int64 {
	t.Helper()
	var sum int64
	for _, off := range committedOffsets(t, brokers, group, topic, partitions) {
		sum += max(off, 0)
	}
	return sum
}
