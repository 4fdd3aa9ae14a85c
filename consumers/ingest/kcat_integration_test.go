package ingest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/schemas"
)

// TestKcatInterop produces JSON with kcat (librdkafka, a client nobody here
// wrote), the same events a second time through the producer library into
// another topic, and checks both land identically; the dead letter of a bad
// line is read back with kcat too.
func TestKcatInterop(t *testing.T) {
	brokers, ch := servers(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not installed (deployments/local/tools.sh install): %v", err)
	}
	ch, conn := newDatabase(t, ch)
	load := makeLoad(3_000, time.Now().UTC().Add(-30*time.Minute).Truncate(time.Second), 3)

	// kcat: "key|value" lines; half of them without a content-type header.
	var file bytes.Buffer
	var enc schemas.JSONEncoder
	for _, e := range load.events {
		file.WriteString(e.SessionID.String())
		file.WriteByte('|')
		file.Write(enc.AppendJSON(nil, &e))
		file.WriteByte('\n')
	}
	file.WriteString("bad|{\"kind\":\"join\"}\n")
	path := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	topicK := newTopic(t, brokers, randomName("kcat-"), 4)
	dlqK := newTopic(t, brokers, topicK+".dlq", 1)
	out, err := exec.Command(kcat, "-b", brokers[0], "-t", topicK, "-P", "-K", "|", "-z", "lz4", "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat produce: %v: %s", err, out)
	}

	// The producer library, same events, other topic and database.
	topicL := newTopic(t, brokers, randomName("lib-"), 4)
	dlqL := newTopic(t, brokers, topicL+".dlq", 1)
	chL, connL := newDatabase(t, ch)
	p, err := producer.New(producer.Config{Brokers: brokers, Topic: topicL})
	if err != nil {
		t.Fatal(err)
	}
	for i := range load.events {
		e := load.events[i]
		if err := p.Produce(context.Background(), &e); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("producer close: %v", err)
	}

	runK := startPipeline(t, brokers, topicK, dlqK, randomName("group-"), ch, conn, nil)
	runL := startPipeline(t, brokers, topicL, dlqL, randomName("group-"), chL, connL, nil)
	n := uint64(len(load.events))
	waitFor(t, "both topics ingested", func() (bool, string) {
		k, l := count(t, conn, "SELECT count() FROM events"), count(t, connL, "SELECT count() FROM events")
		return k == n && l == n && runK.p.Stats().Invalid.Load() == 1, describe("kcat %d, library %d of %d", k, l, n)
	})
	for _, r := range []*running{runK, runL} {
		if err := r.stop(t); err != nil {
			t.Fatalf("pipeline: %v", err)
		}
	}
	checkFigures(t, conn, load.events)
	checkFigures(t, connL, load.events)
	// Same rows, field for field: an order-independent hash of every column.
	q := "SELECT sum(cityHash64(toString(event_id), toString(kind), ts, ts_ms, space_id, toString(session_id), user_id, toString(role), client, " +
		"app_version, region, country, join_ms, attempt, toString(reason), toString(phase), code, http_status)) FROM events"
	if a, b := count(t, conn, q), count(t, connL, q); a != b {
		t.Fatalf("rows from kcat and from the library differ: column hash %d vs %d", a, b)
	}

	// The dead letter, read by kcat: same key and value, reason and source headers.
	out, err = exec.Command(kcat, "-b", brokers[0], "-t", dlqK, "-C", "-e", "-c", "1",
		"-f", "%k|%s|%h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat consume dead letters: %v: %s", err, out)
	}
	line := string(out)
	for _, want := range []string{`bad|{"kind":"join"}|`, "error=", "event_id: missing", "source-topic=" + topicK, "source-offset="} {
		if !strings.Contains(line, want) {
			t.Fatalf("dead letter read by kcat %q lacks %q", line, want)
		}
	}
}
