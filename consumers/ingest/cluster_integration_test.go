package ingest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// TestClusterSinkResendIsDeduplicated is an insert on the cluster (spacepulse-migrate -cluster,
// the loopback cluster of deployments/local/cluster-up.sh) that failed after the shards took its
// block: the retry resends the identical block, through the same server and through another, and
// every shard drops what it has (replicated insert deduplication), the views' rows included:
// events holds each event once and the figures equal a brute-force count.
func TestClusterSinkResendIsDeduplicated(t *testing.T) {
	conn, ch := warehousetest.NewClusterDatabase(t)
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	evs, recs := loadRecords(t, synth.Load{Events: 4_000, Spaces: 2, Seed: 7, Start: start, Duration: 3 * time.Minute, JoinErrorRate: 0.2}, 1000, 1)

	// A second sink on the last server: a retry after the first server died.
	other := ch
	other.Addr = ch.Addrs()[len(ch.Addrs())-1]
	otherConn, err := warehouse.Open(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer otherConn.Close()

	sink := NewClusterSink(conn, ch.Database)
	var reconciles atomic.Int32
	rc := reconciler(conn, testLogger(t))
	sink.Reconcile = func(ctx context.Context, from, to time.Time) error { reconciles.Add(1); return rc(ctx, from, to) }
	failover := NewClusterSink(otherConn, ch.Database)
	failover.Reconcile = sink.Reconcile
	twice := 0
	for i, rec := range recs {
		twice += min(1, 2-i%3) // blocks 0 and 1 of every three
		if err := sink.WriteBlock(ctx, rec, false); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // the retry through the same server
			if err := sink.WriteBlock(ctx, rec, true); err != nil {
				t.Fatal(err)
			}
		case 1: // through another server: the same block, inserted_at included
			failover.last, failover.lastAt = rec, sink.lastAt
			if err := failover.WriteBlock(ctx, rec, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(evs)) {
		t.Fatalf("events holds %d rows for %d events, want each once", n, len(evs))
	}
	if n := count(t, conn, "SELECT toUInt64(sum(events)) FROM space_second_counts"); n != uint64(len(evs)) {
		t.Fatalf("space_second_counts sums to %d for %d events, want each once", n, len(evs))
	}
	if reconciles.Load() == 0 {
		t.Fatal("no retry reconciled its block's rollups")
	}
	checkFigures(t, conn, evs)
	t.Logf("%d events in %d blocks, %d of them sent twice: each event once", len(evs), len(recs), twice)
}
