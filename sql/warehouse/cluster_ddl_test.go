package warehouse

import (
	"errors"
	"strings"
	"testing"
)

// TestClusterStatements derives the cluster DDL from tables as 18.16's system.tables shows them
// (create_table_query and engine_full, copied from a server), without a server. The statements
// themselves are checked only by 18.16 servers with ZooKeeper (TestClusterSameFiguresAsSingleNode
// and make test-cluster): chdb has no cluster, ZooKeeper or ON CLUSTER.
func TestClusterStatements(t *testing.T) {
	tables := []clusterTable{
		{Name: "events", Engine: "ReplacingMergeTree",
			Create: "CREATE TABLE s.events ( event_id UUID,  session_id UUID,  ts DateTime('UTC')) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (ts, event_id) SETTINGS index_granularity = 8192",
			Full:   "ReplacingMergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (ts, event_id) SETTINGS index_granularity = 8192",
			Cols:   []string{"event_id", "session_id", "ts"}},
		{Name: "counts", Engine: "ReplacingMergeTree",
			Create: "CREATE TABLE s.counts ( second DateTime('UTC'),  n Int64,  seq UInt64) ENGINE = ReplacingMergeTree(seq) ORDER BY second",
			Full:   "ReplacingMergeTree(seq) ORDER BY second",
			Cols:   []string{"second", "n", "seq"}},
		{Name: "counts_mv", Engine: "MaterializedView",
			Create: "CREATE MATERIALIZED VIEW s.counts_mv TO s.counts ( second DateTime('UTC'),  n Int64) AS SELECT ts AS second, toInt64(count()) AS n, 1.5 AS x FROM s.events  WHERE inserted_at >= toDateTime(0, 'UTC') GROUP BY second"},
	}
	got, err := clusterStatements(tables, "s", "db", "c")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE IF NOT EXISTS db.events_local ON CLUSTER c ( event_id UUID,  session_id UUID,  ts DateTime('UTC')) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/events_local', '{replica}') PARTITION BY toYYYYMM(ts) ORDER BY (ts, event_id) SETTINGS index_granularity = 8192, replicated_deduplication_window = 1000",
		"CREATE TABLE IF NOT EXISTS db.counts_local ON CLUSTER c ( second DateTime('UTC'),  n Int64,  seq UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/counts_local', '{replica}', seq) ORDER BY second SETTINGS replicated_deduplication_window = 0",
		"CREATE TABLE IF NOT EXISTS db.events ON CLUSTER c AS db.events_local ENGINE = Distributed(c, db, events_local, cityHash64(toString(session_id)))",
		"CREATE TABLE IF NOT EXISTS db.counts ON CLUSTER c AS db.counts_local ENGINE = Distributed(c, db, counts_local, rand())",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS db.counts_mv ON CLUSTER c TO db.counts_local ( second DateTime('UTC'),  n Int64) AS SELECT ts AS second, toInt64(count()) AS n, 1.5 AS x FROM db.events_local  WHERE inserted_at >= toDateTime(0, 'UTC') GROUP BY second",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	refuse := func(tb clusterTable) {
		t.Helper()
		_, err := clusterStatements([]clusterTable{tb}, "s", "db", "c")
		var u *ClusterUnsupported
		if !errors.As(err, &u) || u.Table != tb.Name {
			t.Errorf("%s: %v, want ClusterUnsupported", tb.Name, err)
		}
	}
	refuse(clusterTable{Name: "mem", Engine: "Memory", Create: "CREATE TABLE s.mem (a UInt8) ENGINE = Memory", Full: "Memory"})
	refuse(clusterTable{Name: "rep", Engine: "ReplicatedMergeTree", Full: "ReplicatedMergeTree('/p', 'r') ORDER BY a"})
	refuse(clusterTable{Name: "inner", Engine: "MaterializedView", Create: "CREATE MATERIALIZED VIEW s.inner ENGINE = MergeTree() ORDER BY a AS SELECT a FROM s.events"})
	refuse(clusterTable{Name: "view2", Engine: "MaterializedView", Create: "CREATE MATERIALIZED VIEW s.view2 TO s.counts (a UInt8) AS SELECT a FROM s.nothing"})
}
