package warehouse_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestIngestWatermark writes consumer records the way each case arises and checks the
// watermark ingest_watermark.sql reads from them.
func TestIngestWatermark(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	wm := func() warehouse.Watermark {
		t.Helper()
		w, err := warehouse.IngestWatermark(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	if w := wm(); w.Known || w.Partitions != 0 {
		t.Fatalf("no records: %+v, want an unknown watermark", w)
	}
	var serverNow time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&serverNow); err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	// part records partition p's last commit, reported ago seconds before now; beat the
	// consumer's heartbeat.
	part := func(consumer string, p int32, offset, hwm int64, maxTS time.Time, ago int) {
		t.Helper()
		seq++
		q := fmt.Sprintf("INSERT INTO ingest_progress (consumer_group, topic, partition, consumer, committed_offset, high_watermark, max_event_ts, reported_at, seq) "+
			"SELECT 'g', 'events', %d, '%s', %d, %d, toDateTime(%d, 'UTC'), now() - %d, %d", p, consumer, offset, hwm, maxTS.Unix(), ago, seq)
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	beat := func(consumer string, stopped, ago int) {
		t.Helper()
		seq++
		q := fmt.Sprintf("INSERT INTO ingest_heartbeat (consumer_group, topic, consumer, stopped, beat_at, seq) SELECT 'g', 'events', '%s', %d, now() - %d, %d",
			consumer, stopped, ago, seq)
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want time.Time, holding uint64) {
		t.Helper()
		w := wm()
		if !w.Known || w.Holding != holding {
			t.Fatalf("%s: %+v, want a known watermark held by %d partitions", what, w, holding)
		}
		if want.IsZero() { // now, give or take the seconds the test takes
			if d := w.At.Sub(serverNow); d < 0 || d > time.Minute {
				t.Fatalf("%s: watermark %s, want the server's now (%s)", what, w.At, serverNow)
			}
			return
		}
		if !w.At.Equal(want) {
			t.Fatalf("%s: watermark %s, want %s", what, w.At, want)
		}
	}
	ts := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	beat("c1", 0, 0)
	if w := wm(); !w.Known || w.At.Unix() != 0 {
		t.Fatalf("a consumer alive that has landed nothing: %+v, want the epoch (nothing complete)", w)
	}
	part("c1", 0, 99, 200, ts(100), 0) // 100 messages waiting behind offset 99
	check("one partition behind", ts(100), 1)
	part("c1", 1, 50, 51, ts(300), 60) // caught up, no commit for a minute: idle
	check("an idle partition holds nothing back", ts(100), 1)
	part("c1", 0, 199, 200, ts(160), 0) // caught up, but committing: busy
	check("a busy partition holds at its newest event", ts(160), 1)
	part("c1", 0, 199, 200, ts(120), 30) // a new owner's older events (after a rebalance): the max stays
	check("idle after its last commit", time.Time{}, 0)
	part("c1", 2, 10, 11, time.Unix(0, 0), 0) // only dead letters so far
	check("a partition with no valid event", time.Time{}, 0)
	part("c2", 3, 10, 11, ts(500), 0) // c2 never sent a heartbeat
	check("a partition whose owner never reported", ts(500), 1)
	beat("c2", 0, 60) // ... or went silent a minute ago: killed
	check("a partition whose owner went silent", ts(500), 1)
	beat("c2", 1, 20) // ... or stopped cleanly 20 s ago with it caught up
	w := wm()
	if !w.Known || w.Holding != 0 || w.At.Before(serverNow.Add(-25*time.Second)) || w.At.After(serverNow.Add(-15*time.Second)) {
		t.Fatalf("owner stopped cleanly 20 s ago: %+v, want its stop time, about %s", w, serverNow.Add(-20*time.Second))
	}
	part("c2", 3, 10, 40, ts(500), 0) // it had left messages behind
	check("a stopped owner that left messages", ts(500), 1)
	if w := wm(); w.Partitions != 4 {
		t.Fatalf("%d partitions, want 4", w.Partitions)
	}

	// RecordProgress writes what the SQL reads.
	if err := warehouse.RecordProgress(ctx, conn, warehouse.Heartbeat{Group: "g", Topic: "events", Consumer: "c2"},
		[]warehouse.PartitionProgress{{Partition: 3, CommittedOffset: 40, HighWatermark: 41, MaxEventTS: ts(900)}}); err != nil {
		t.Fatal(err)
	}
	check("c2 caught up and busy again", ts(900), 1)
}
