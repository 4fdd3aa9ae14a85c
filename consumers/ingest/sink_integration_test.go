package ingest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spacepulse/spacepulse/producers/synth"
)

// TestSinkRetryReconcilesWhenEveryRowLanded is the server dying after an insert's events part and
// before its view parts, with every row of the block in events: the retry has nothing left to
// insert and must still reconcile the block's rollups (TestServerKilledDuringIngestion found a
// curve 5 listeners short when it did not). The first retry's reconcile fails, as when the server
// is killed again during it: that retry must fail (transient, never a refusal), and the next one
// reconcile (TestServerKilledDuringIngestion found a curve 9 listeners short when a failed
// reconcile was only logged).
func TestSinkRetryReconcilesWhenEveryRowLanded(t *testing.T) {
	_, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	evs, recs := loadRecords(t, synth.Load{Events: 3_000, Spaces: 1, Seed: 5, Start: start, Duration: 2 * time.Minute, JoinErrorRate: 0.2}, 3_000, 1)
	rec := recs[0]

	sink := NewSink(conn, ch.Database)
	var calls atomic.Int32
	rc := reconciler(conn, testLogger(t))
	sink.Reconcile = func(ctx context.Context, from, to time.Time) error {
		if calls.Add(1) == 1 {
			return errServerDied // the server killed again during the first reconcile
		}
		return rc(ctx, from, to)
	}
	if err := sink.WriteBlock(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	// What a server killed between the parts leaves: the rows in events, none in a rollup.
	for _, q := range []string{
		`INSERT INTO space_second_counts (space_id, second, class, events)
		 SELECT space_id, second, class, -toInt64(sum(events)) FROM space_second_counts GROUP BY space_id, second, class`,
		`INSERT INTO space_minute_counts (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, events)
		 SELECT space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, -toInt64(sum(events))
		 FROM space_minute_counts GROUP BY space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, conn, "SELECT toUInt64(sum(events) + 0) FROM space_second_counts"); n != 0 {
		t.Fatalf("the damage left %d second counts: the test proves nothing", n)
	}
	// The first retry's reconcile fails: the insert fails with it, as a transient error (the
	// writer retries the block and does not commit it; the rows must not go to the DLQ).
	err := sink.WriteBlock(ctx, rec, true)
	if !errors.Is(err, errServerDied) || classify(err) != transient {
		t.Fatalf("retry with a failing reconcile: %v (%s), want errServerDied, transient", err, classify(err))
	}
	if n := count(t, conn, "SELECT toUInt64(sum(events) + 0) FROM space_second_counts"); n != 0 {
		t.Fatalf("the failed reconcile changed the rollup (%d second counts)", n)
	}
	if err := sink.WriteBlock(ctx, rec, true); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("two retries of a block that had fully landed called Reconcile %d times, want once each", calls.Load())
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(evs)) {
		t.Fatalf("events holds %d rows for %d events, want each once", n, len(evs))
	}
	checkFigures(t, conn, evs)
}

// TestSinkWriteBlocksLandsOnePart: several records inserted together land in one part of events
// and one of each rollup (the server squashes the blocks of one INSERT), with every figure exact.
func TestSinkWriteBlocksLandsOnePart(t *testing.T) {
	_, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	evs, recs := loadRecords(t, synth.Load{Events: 9_000, Spaces: 2, Seed: 7, Start: start, Duration: 3 * time.Minute, JoinErrorRate: 0.1}, 3_000, 3)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	sink := NewSink(conn, ch.Database)
	if !sink.Groups() || NewClusterSink(conn, ch.Database).Groups() {
		t.Fatal("a single-server sink groups inserts, a cluster sink (resends its blocks) does not")
	}
	for _, table := range []string{"events", "space_second_counts", "space_minute_counts", "join_latency_minute_counts"} {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.WriteBlocks(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "space_second_counts", "space_minute_counts", "join_latency_minute_counts"} {
		if n := count(t, conn, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = '"+table+"' AND active"); n != 1 {
			t.Errorf("%s: %d parts after one insert of 3 blocks, want 1", table, n)
		}
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(evs)) {
		t.Fatalf("events holds %d rows for %d events", n, len(evs))
	}
	checkFigures(t, conn, evs)
}

// errServerDied stands for a reconcile cut by the server's death: any error, even a ClickHouse
// exception classify would take for refused rows, must leave the block to be retried.
var errServerDied = &clickhouse.Exception{Code: 53, Message: "reconcile cut short (test)"}
