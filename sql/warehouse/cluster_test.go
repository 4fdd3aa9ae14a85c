package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// TestClusterSameFiguresAsSingleNode creates the cluster schema (spacepulse-migrate -cluster) on
// the loopback cluster of deployments/local/cluster-up.sh, lands the same events there (through
// the Distributed table, synchronously) and in a single-node database on one of its servers
// (migrated with Migrate, plain MergeTree tables), and asks both every figure the report, the
// plugin and the alerts read: the query files of sql/queries, unchanged, must give the same
// answers through the Distributed tables. It also checks the placement (each session's events
// on one shard, both shards used, both replicas of a shard equal), that the schema is current
// on a second run, and that the consumer's layout check refuses a -cluster mismatch.
func TestClusterSameFiguresAsSingleNode(t *testing.T) {
	conn, ccfg := warehousetest.NewClusterDatabase(t)
	ctx := testContext(t)

	// The single-node reference: a plain database on the first server of the cluster.
	scfg := ccfg
	scfg.Cluster, scfg.Addr = "", ccfg.Addrs()[0]
	scfg.Database = ccfg.Database + "_single"
	single, _, err := warehouse.Setup(ctx, scfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = single.Exec(context.Background(), "DROP DATABASE IF EXISTS "+scfg.Database)
		_ = single.Close()
	})

	// A second Setup of the cluster database applies nothing.
	again, applied, err := warehouse.Setup(ctx, ccfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
	if len(applied) != 0 {
		t.Fatalf("second cluster migration applied %v, want nothing", applied)
	}
	if v, err := warehouse.SchemaVersion(ctx, conn); err != nil || v != warehouse.LatestVersion {
		t.Fatalf("cluster schema version %d (%v), want %d", v, err, warehouse.LatestVersion)
	}

	// The same events in both, in the same shuffled batches.
	evs := append(generate(41, "room-a", t0, 600, 20), generate(42, "room-b", t0.Add(5*time.Minute), 300, 10)...)
	for _, b := range deliver(43, evs, 6) {
		insertEvents(t, ctx, conn, b)
		insertEvents(t, ctx, single, b)
	}
	for _, c := range []driver.Conn{conn, single} {
		err := warehouse.RecordProgress(ctx, c, warehouse.Heartbeat{Group: "g", Topic: "t", Consumer: "c1"},
			[]warehouse.PartitionProgress{{Partition: 0, CommittedOffset: 10, HighWatermark: 11, MaxEventTS: t0.Add(40 * time.Minute)}})
		if err != nil {
			t.Fatal(err)
		}
	}

	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil || n != uint64(len(evs)) {
		t.Fatalf("cluster events: %d (%v), want %d", n, err, len(evs))
	}
	checkPlacement(t, ctx, ccfg, len(evs))

	from, to := t0.Add(-time.Minute), t0.Add(40*time.Minute)
	figures := map[string]func(warehouse.Querier) (any, error){
		"Spaces":    func(q warehouse.Querier) (any, error) { return warehouse.Spaces(ctx, q) },
		"SpacesIn":  func(q warehouse.Querier) (any, error) { return warehouse.SpacesIn(ctx, q, from, to, 10) },
		"Watermark": func(q warehouse.Querier) (any, error) { return warehouse.IngestWatermark(ctx, q) },
		"RollupSum": func(q warehouse.Querier) (any, error) { return rollupSums(ctx, q) },
		"Dimensions": func(q warehouse.Querier) (any, error) {
			return warehouse.DimensionValues(ctx, q, "room-a", from, to, "client", 10)
		},
	}
	for _, space := range []string{"room-a", "room-b"} {
		for name, f := range map[string]func(q warehouse.Querier) (any, error){
			"Concurrency": func(q warehouse.Querier) (any, error) { return warehouse.Concurrency(ctx, q, space, from, to) },
			"Peak":        func(q warehouse.Querier) (any, error) { return warehouse.Peak(ctx, q, space, from, to) },
			"FailureRate": func(q warehouse.Querier) (any, error) { return warehouse.FailureRate(ctx, q, space, from, to) },
			"Buckets": func(q warehouse.Querier) (any, error) {
				return warehouse.ConcurrencyBuckets(ctx, q, space, from, to, time.Minute)
			},
			"Activity": func(q warehouse.Querier) (any, error) {
				return warehouse.Activity(ctx, q, space, from, to, time.Minute)
			},
			"RateSeries": func(q warehouse.Querier) (any, error) {
				return warehouse.FailureRateSeries(ctx, q, space, from, to, time.Minute)
			},
			"RateBy": func(q warehouse.Querier) (any, error) {
				return warehouse.FailureRateBy(ctx, q, space, from, to, time.Minute, "client")
			},
			"UserRate": func(q warehouse.Querier) (any, error) {
				return warehouse.UserFailureRate(ctx, q, space, from, to, time.Minute)
			},
			"ErrorsByCode": func(q warehouse.Querier) (any, error) {
				return warehouse.ErrorsByCode(ctx, q, space, from, to, time.Minute, false)
			},
			"Latency": func(q warehouse.Querier) (any, error) {
				return warehouse.JoinLatency(ctx, q, space, from, to, 5*time.Minute, "")
			},
			"LatencyBy": func(q warehouse.Querier) (any, error) {
				return warehouse.JoinLatency(ctx, q, space, from, to, 5*time.Minute, "country")
			},
			"Summary":    func(q warehouse.Querier) (any, error) { return warehouse.Summary(ctx, q, space, from, to) },
			"FailuresBy": func(q warehouse.Querier) (any, error) { return warehouse.FailuresBy(ctx, q, space, from, to, "code") },
			"PageAlert": func(q warehouse.Querier) (any, error) {
				wm, err := warehouse.IngestWatermark(ctx, q)
				if err != nil {
					return nil, err
				}
				return warehouse.AlertState(ctx, q, space, from, to, warehouse.PageRule, wm)
			},
			"RetryAlert": func(q warehouse.Querier) (any, error) {
				wm, err := warehouse.IngestWatermark(ctx, q)
				if err != nil {
					return nil, err
				}
				return warehouse.AlertState(ctx, q, space, from, to, warehouse.RetryRule, wm)
			},
			"CrashAlert": func(q warehouse.Querier) (any, error) {
				wm, err := warehouse.IngestWatermark(ctx, q)
				if err != nil {
					return nil, err
				}
				return warehouse.AlertState(ctx, q, space, from, to, warehouse.CrashRule, wm)
			},
		} {
			figures[name+"/"+space] = f
		}
	}
	for name, f := range figures {
		want, err := f(single)
		if err != nil {
			t.Fatalf("%s on the single node: %v", name, err)
		}
		got, err := f(conn)
		if err != nil {
			t.Errorf("%s through the Distributed tables: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the cluster says\n%+v\nthe single node\n%+v", name, got, want)
		}
	}
	t.Logf("%d figures of %d events equal on the cluster and the single node", len(figures), len(evs))

	// The consumer's layout check: -cluster on a single-node schema and none on the cluster's.
	if err := warehouse.CheckLayout(ctx, conn, ""); !errors.Is(err, warehouse.ErrLayout) {
		t.Errorf("CheckLayout on the cluster schema without -cluster: %v, want ErrLayout", err)
	}
	if err := warehouse.CheckLayout(ctx, single, ccfg.Cluster); !errors.Is(err, warehouse.ErrLayout) {
		t.Errorf("CheckLayout on a single-node schema with -cluster: %v, want ErrLayout", err)
	}
	if err := warehouse.CheckLayout(ctx, conn, ccfg.Cluster); err != nil {
		t.Errorf("CheckLayout on the cluster schema with -cluster: %v", err)
	}
	// And spacepulse-migrate -cluster refuses a database that holds a single-node schema.
	if _, err := warehouse.MigrateCluster(ctx, conn, scfg.Database, ccfg.Cluster); err == nil || !strings.Contains(err.Error(), "single-node schema") {
		t.Errorf("MigrateCluster over a single-node schema: %v, want a refusal", err)
	}
}

// rollupSums is every rollup's total, which must equal the raw counts on both layouts.
func rollupSums(ctx context.Context, q warehouse.Querier) ([4]int64, error) {
	var out [4]int64
	err := q.QueryRow(ctx, `SELECT
		(SELECT toInt64(count()) FROM events),
		(SELECT sum(events) FROM space_second_counts),
		(SELECT sum(events) FROM space_minute_counts),
		(SELECT sum(joins) FROM join_latency_minute_counts)`).Scan(&out[0], &out[1], &out[2], &out[3])
	return out, err
}

// checkPlacement checks on every server's local table that each session is on one shard, that
// both shards hold events, and that both replicas of a shard hold the same rows, once the
// replicas have fetched each other's parts (SYSTEM SYNC REPLICA).
func checkPlacement(t *testing.T, ctx context.Context, cfg warehouse.Config, total int) {
	t.Helper()
	shardOf := map[string]uint32{}
	rowsOf := map[uint32][]uint64{}
	for _, addr := range cfg.Addrs() {
		c := cfg
		c.Addr = addr
		conn, err := warehouse.Open(ctx, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var shard uint32
		if err := conn.QueryRow(ctx, "SELECT toUInt32(substitution) FROM system.macros WHERE macro = 'shard'").Scan(&shard); err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+cfg.Database+".events_local"); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM events_local").Scan(&n); err != nil {
			t.Fatal(err)
		}
		rowsOf[shard] = append(rowsOf[shard], n)
		rows, err := conn.Query(ctx, "SELECT DISTINCT toString(session_id) FROM events_local")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			if prev, ok := shardOf[s]; ok && prev != shard {
				t.Errorf("session %s is on shards %d and %d", s, prev, shard)
			}
			shardOf[s] = shard
		}
		rows.Close()
	}
	var sum uint64
	for shard, ns := range rowsOf {
		if len(ns) != 2 || ns[0] != ns[1] || ns[0] == 0 {
			t.Errorf("shard %d: replicas hold %v events, want two equal, non-zero counts", shard, ns)
		}
		sum += ns[0]
	}
	if len(rowsOf) != 2 || sum != uint64(total) {
		t.Errorf("shards hold %v events, want 2 shards with %d in all", rowsOf, total)
	}
	t.Logf("events per shard (replica 1, replica 2): %v", rowsOf)
}

// TestMigrateClusterUpgrade is a cluster database one migration behind (0007's join-latency
// rollup and its view missing, schema_migrations at 6), as a cluster made before a new migration
// would be: MigrateCluster creates what the migration adds, derived like the rest, and records it;
// with events in the database it refuses instead, naming the view that would need a backfill.
func TestMigrateClusterUpgrade(t *testing.T) {
	conn, cfg := warehousetest.NewClusterDatabase(t)
	ctx := testContext(t)
	behind := func() {
		t.Helper()
		for _, q := range []string{
			"DROP TABLE IF EXISTS %s.join_latency_minute_counts_mv ON CLUSTER %s",
			"DROP TABLE IF EXISTS %s.join_latency_minute_counts ON CLUSTER %s",
			"DROP TABLE IF EXISTS %s.join_latency_minute_counts_local ON CLUSTER %s",
			"ALTER TABLE %s.schema_migrations_local ON CLUSTER %s DELETE WHERE version = 7",
		} {
			if err := conn.Exec(ctx, fmt.Sprintf(q, cfg.Database, cfg.Cluster)); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := warehouse.SchemaVersion(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			if v == 6 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("schema version %d 30 s after deleting 7, want 6", v)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	behind()
	applied, err := warehouse.MigrateCluster(ctx, conn, cfg.Database, cfg.Cluster)
	if err != nil || !reflect.DeepEqual(applied, []int{7}) {
		t.Fatalf("upgrade from 6: applied %v, %v; want [7]", applied, err)
	}
	// What it made takes the events it is given: a join's latency lands in the new rollup.
	evs := generate(51, "room-u", t0, 50, 5)
	insertEvents(t, ctx, conn, evs)
	// (Two queries: 18.16 sends a scalar subquery of a query over a Distributed table to the
	// shards with it, where it counts something else; sql/queries read Distributed tables only in
	// their innermost subqueries.)
	joins := count64(t, ctx, conn, "SELECT toInt64(sum(joins)) FROM join_latency_minute_counts")
	raw := count64(t, ctx, conn, "SELECT toInt64(count()) FROM events WHERE kind = 'join' AND join_ms >= 0")
	if joins != raw || raw == 0 {
		t.Fatalf("join_latency_minute_counts after the upgrade: %d joins, %d joins with a latency in events", joins, raw)
	}

	// With events stored, adding the view again would need a backfill: refused.
	behind()
	_, err = warehouse.MigrateCluster(ctx, conn, cfg.Database, cfg.Cluster)
	if err == nil || !strings.Contains(err.Error(), "join_latency_minute_counts_mv, which needs a backfill") {
		t.Fatalf("upgrade from 6 with events: %v, want a refusal naming the view", err)
	}
}

func count64(t *testing.T, ctx context.Context, conn driver.Conn, query string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
