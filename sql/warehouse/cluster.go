package warehouse

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// The schema on a ClickHouse cluster (spacepulse-migrate -cluster NAME).
//
// The cluster schema is not a second copy of the migrations: MigrateCluster applies the
// single-node migrations to a scratch database on the server it is connected to, reads back what
// they made (system.tables: each table's columns and engine, each view's query) and derives from
// it, for every table T:
//
//   - T_local on every server (ON CLUSTER): the same columns, the Replicated form of the same
//     engine (ReplacingMergeTree(v) → ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/T_local',
//     '{replica}', v), SummingMergeTree → ReplicatedSummingMergeTree, …), the same PARTITION BY,
//     ORDER BY and SETTINGS;
//   - T, a Distributed table over T_local under the name the queries read, so sql/queries, the
//     report and the plugin run unchanged;
//   - every materialized view as it is, on every server, reading and writing the local tables
//     (T_local), so a shard rolls up the events it holds.
//
// It then compares DESCRIBE of every table it made (T and T_local) with the scratch database's T
// and fails on any difference, and drops the scratch database. A new migration is therefore
// taken over without an edit here, provided what it leaves behind is MergeTree-family tables and
// materialized views with TO (see ClusterUnsupported for what it refuses).
//
// The sharding key of events is session_id (ShardingKey): every copy of an event carries the same
// session_id, so copies land on one shard, where ReplacingMergeTree folds them and the consumer's
// lookups find them; a session's join and leave are on one shard too, while a room of a million
// sessions spreads over all shards. space_id would put a whole room (the 8M-listener night) on one
// shard; event_id would keep copies together as well but split every session over the shards.
// Tables without session_id are written through their Distributed table with rand(): their
// readers sum or take the newest row, which no placement changes.

// clusterZooKeeperPath is the ZooKeeper path of a local table's replicas, per shard.
const clusterZooKeeperPath = "/clickhouse/tables/{shard}/%s/%s"

// localSuffix names a Distributed table's local table.
const localSuffix = "_local"

// ShardingKey returns the sharding expression of the Distributed table over a table with these
// columns: session_id (as a string: 18.16 hashes no UUID) when it has one, else rand().
func ShardingKey(columns []string) string {
	if slices.Contains(columns, "session_id") {
		return "cityHash64(toString(session_id))"
	}
	return "rand()"
}

// dedupWindow is how many recent insert blocks a shard remembers to drop a block inserted again
// (replicated insert deduplication, by the block's checksum in ZooKeeper), for a table with these
// columns. The raw events table (it has session_id) remembers 1,000: a consumer retrying an
// insert sends the identical block again, rows and inserted_at alike, and each shard that took it
// the first time drops it (with its materialized views' rows), so no lookup is needed; 1,000
// blocks are minutes of inserts here, where the default 100 was 8 s of three consumers' batches.
// Every other table remembers none: a rollup's correction row (warehouse.Reconcile, the copy
// sweep) may repeat an earlier one exactly and must count again.
func dedupWindow(columns []string) int {
	if slices.Contains(columns, "session_id") {
		return 1000
	}
	return 0
}

// clusterTable is one table or view of the scratch database, as system.tables shows it.
type clusterTable struct {
	Name   string
	Engine string // engine name: ReplacingMergeTree, MaterializedView, …
	Create string // create_table_query
	Full   string // engine_full: "ReplacingMergeTree(v) PARTITION BY … ORDER BY … SETTINGS …"
	Cols   []string
}

// engineRe splits engine_full into the engine, its arguments and the rest.
var engineRe = regexp.MustCompile(`(?s)^(\w+)\((.*?)\)(.*)$`)

// ClusterUnsupported is what the cluster schema cannot derive: a table engine outside the
// MergeTree family (or already Replicated/Distributed), a materialized view without TO (its inner
// table would be neither replicated nor distributed), or a view reading another database.
type ClusterUnsupported struct {
	Table, Why string
}

func (e *ClusterUnsupported) Error() string {
	return fmt.Sprintf("cluster schema: table %s: %s (a migration for -cluster may create only MergeTree-family tables and materialized views with TO)", e.Table, e.Why)
}

// clusterStatements derives the cluster DDL from the scratch database's tables (see above), in
// the order to run it: the local tables, the Distributed tables, then the views.
func clusterStatements(tables []clusterTable, scratch, database, cluster string) ([]string, error) {
	var locals, dists, views []string
	isTable := map[string]bool{}
	for _, t := range tables {
		if t.Engine != "MaterializedView" {
			isTable[t.Name] = true
		}
	}
	for _, t := range tables {
		if t.Engine == "MaterializedView" {
			v, err := clusterView(t, scratch, database, cluster, isTable)
			if err != nil {
				return nil, err
			}
			views = append(views, v)
			continue
		}
		m := engineRe.FindStringSubmatch(t.Full)
		if m == nil || !strings.HasSuffix(m[1], "MergeTree") || strings.HasPrefix(m[1], "Replicated") {
			return nil, &ClusterUnsupported{t.Name, "engine " + t.Full}
		}
		head := "CREATE TABLE " + scratch + "." + t.Name + " "
		cols, _, ok := strings.Cut(strings.TrimPrefix(t.Create, head), " ENGINE = ")
		if !strings.HasPrefix(t.Create, head) || !ok {
			return nil, &ClusterUnsupported{t.Name, "unexpected create_table_query " + t.Create}
		}
		local := t.Name + localSuffix
		args := fmt.Sprintf("'"+clusterZooKeeperPath+"', '{replica}'", database, local)
		if strings.TrimSpace(m[2]) != "" {
			args += ", " + m[2]
		}
		tail := m[3]
		if strings.Contains(tail, " SETTINGS ") {
			tail += ", "
		} else {
			tail += " SETTINGS "
		}
		tail += fmt.Sprintf("replicated_deduplication_window = %d", dedupWindow(t.Cols))
		locals = append(locals, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s %s ENGINE = Replicated%s(%s)%s",
			database, local, cluster, cols, m[1], args, tail))
		dists = append(dists, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
			database, t.Name, cluster, database, local, cluster, database, local, ShardingKey(t.Cols)))
	}
	return slices.Concat(locals, dists, views), nil
}

// scratchRef finds a table of the scratch database named in a view's query.
var scratchRef = regexp.MustCompile(`\b(\w+)\.(\w+)\b`)

// clusterView rewrites a view of the scratch database to one on every server of the cluster
// that reads and writes the local tables.
func clusterView(t clusterTable, scratch, database, cluster string, isTable map[string]bool) (string, error) {
	head := "CREATE MATERIALIZED VIEW " + scratch + "." + t.Name + " TO "
	if !strings.HasPrefix(t.Create, head) {
		return "", &ClusterUnsupported{t.Name, "a materialized view without TO"}
	}
	var bad string
	body := scratchRef.ReplaceAllStringFunc(strings.TrimPrefix(t.Create, head), func(ref string) string {
		m := scratchRef.FindStringSubmatch(ref)
		if m[1] != scratch {
			return ref // a number (1.5), a column of an alias, or another database's table
		}
		if !isTable[m[2]] {
			bad = m[2]
			return ref
		}
		return database + "." + m[2] + localSuffix
	})
	if bad != "" {
		return "", &ClusterUnsupported{t.Name, "reads " + bad + ", which is not a table of the schema"}
	}
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s ON CLUSTER %s TO %s", database, t.Name, cluster, body), nil
}

// scratchTables reads the tables and views of database (a scratch database the single-node
// migrations were applied to), plain tables first.
func scratchTables(ctx context.Context, conn Querier, database string) ([]clusterTable, error) {
	rows, err := conn.Query(ctx, "SELECT name, engine, create_table_query, engine_full FROM system.tables WHERE database = @db ORDER BY engine = 'MaterializedView', name",
		clickhouse.Named("db", database))
	if err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", database, err)
	}
	defer rows.Close()
	var out []clusterTable
	for rows.Next() {
		var t clusterTable
		if err := rows.Scan(&t.Name, &t.Engine, &t.Create, &t.Full); err != nil {
			return nil, fmt.Errorf("read the tables of %s: %w", database, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", database, err)
	}
	for i := range out {
		if out[i].Engine == "MaterializedView" {
			continue
		}
		desc, err := describe(ctx, conn, database+"."+out[i].Name)
		if err != nil {
			return nil, err
		}
		for _, c := range desc {
			out[i].Cols = append(out[i].Cols, strings.SplitN(c, "\t", 2)[0])
		}
	}
	return out, nil
}

// describe returns DESCRIBE TABLE of table, one "name\ttype\tdefault_type\tdefault_expression"
// line per column.
func describe(ctx context.Context, conn Querier, table string) ([]string, error) {
	rows, err := conn.Query(ctx, "DESCRIBE TABLE "+table)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	n := len(rows.Columns())
	for rows.Next() {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("describe %s: %w", table, err)
		}
		out = append(out, strings.Join(vals[:min(n, 4)], "\t"))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	return out, nil
}
