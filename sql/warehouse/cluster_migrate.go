package warehouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ScratchDatabase is the database MigrateCluster applies the single-node migrations to on the
// server it is connected to, to derive the cluster schema from; it is dropped afterwards.
func ScratchDatabase(database string) string { return "spacepulse_derive_" + database }

// MigrateCluster brings database on cluster (a cluster of the servers' remote_servers, with
// {shard} and {replica} macros and ZooKeeper) to LatestVersion: it creates the database on every
// server, derives the cluster schema from the single-node migrations (see cluster.go: local
// Replicated*MergeTree tables T_local, Distributed tables T in front of them under the names the
// queries use, the materialized views on the local tables), creates what is missing ON CLUSTER,
// checks that every table has the columns of the single-node schema, and records the versions
// in schema_migrations (itself a local table and a Distributed one). It returns the versions it
// recorded: none when the schema is current.
//
// A database whose schema_migrations already holds some versions is upgraded by creating the
// tables and views the newer migrations add; a migration that changes an existing table, or adds a
// view while events holds rows (it would need a backfill), is refused with an error that names
// it: apply such a migration by hand on a cluster. Run it from one process (spacepulse-migrate),
// like Migrate. conn is bound to any existing database, with the cluster's settings (Open does
// that for a Config with Cluster); every ON CLUSTER statement waits for every server.
func MigrateCluster(ctx context.Context, conn Execer, database, cluster string) (applied []int, err error) {
	if err := ValidateDatabase(database); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if !identRe.MatchString(cluster) {
		return nil, fmt.Errorf("-cluster %q: want the name of a cluster of the servers' remote_servers (letters, digits and _)", cluster)
	}
	var servers uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = @c", clickhouse.Named("c", cluster)).Scan(&servers); err != nil {
		return nil, fmt.Errorf("read system.clusters: %w", err)
	}
	if servers == 0 {
		return nil, fmt.Errorf("-cluster %s: no such cluster in the remote_servers of the server connected to (system.clusters)", cluster)
	}
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database+" ON CLUSTER "+cluster); err != nil {
		return nil, fmt.Errorf("create database %s on cluster %s: %w", database, cluster, err)
	}
	done := map[int]bool{}
	engines, err := tableEngines(ctx, conn, database)
	if err != nil {
		return nil, err
	}
	if e := engines["schema_migrations"]; e != "" && e != "Distributed" {
		return nil, fmt.Errorf("cluster schema of %s: schema_migrations has engine %s, not Distributed: the database holds a single-node schema (use another -clickhouse-database, or drop it ON CLUSTER)", database, e)
	}
	if engines["schema_migrations"] != "" {
		if done, err = appliedVersions(ctx, conn, database+".schema_migrations"); err != nil {
			return nil, err
		}
	}
	var todo []Migration
	for _, m := range migrations {
		if !done[m.Version] {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}

	scratch := ScratchDatabase(database)
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+scratch); err != nil {
		return nil, fmt.Errorf("drop the scratch database %s: %w", scratch, err)
	}
	defer func() {
		if derr := conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch); derr != nil && err == nil {
			err = fmt.Errorf("drop the scratch database %s: %w", scratch, derr)
		}
	}()
	if _, err := Migrate(ctx, conn, scratch); err != nil {
		return nil, fmt.Errorf("derive the cluster schema: %w", err)
	}
	tables, err := scratchTables(ctx, conn, scratch)
	if err != nil {
		return nil, err
	}
	stmts, err := clusterStatements(tables, scratch, database, cluster)
	if err != nil {
		return nil, err
	}
	if err := checkUpgrade(ctx, conn, tables, engines, scratch, database, len(done) > 0); err != nil {
		return nil, err
	}
	for i, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("create the cluster schema of %s on %s, statement %d of %d: %w\n%s", database, cluster, i+1, len(stmts), err, stmt)
		}
	}
	if err := checkColumns(ctx, conn, tables, scratch, database); err != nil {
		return nil, err
	}
	for _, m := range todo {
		err := conn.Exec(ctx, "INSERT INTO "+database+".schema_migrations (version, name) SELECT toUInt32(@version), @name",
			clickhouse.Named("version", m.Version), clickhouse.Named("name", m.Name))
		if err != nil {
			return applied, fmt.Errorf("record migration %04d_%s in %s: %w", m.Version, m.Name, database, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// tableEngines returns the engine of every table of database on the server conn talks to.
func tableEngines(ctx context.Context, conn Querier, database string) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = @db", clickhouse.Named("db", database))
	if err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", database, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return nil, fmt.Errorf("read the tables of %s: %w", database, err)
		}
		out[name] = engine
	}
	return out, rows.Err()
}

// checkUpgrade refuses what the cluster schema cannot do to an existing database: a table of the
// single-node schema where a Distributed one belongs, a table whose columns a migration changed,
// and a new view over events that already holds rows.
func checkUpgrade(ctx context.Context, conn Querier, tables []clusterTable, engines map[string]string, scratch, database string, upgrade bool) error {
	for _, t := range tables {
		e, exists := engines[t.Name]
		if !exists {
			if t.Engine == "MaterializedView" && upgrade && engines["events"] != "" {
				var n uint64
				if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".events").Scan(&n); err != nil {
					return fmt.Errorf("count the events of %s: %w", database, err)
				}
				if n > 0 {
					return fmt.Errorf("cluster schema of %s: a newer migration adds the view %s, which needs a backfill of the %d events stored: -cluster cannot backfill; apply that migration by hand", database, t.Name, n)
				}
			}
			continue
		}
		switch {
		case t.Engine == "MaterializedView":
		case e != "Distributed":
			return fmt.Errorf("cluster schema of %s: table %s exists with engine %s, not Distributed: the database holds a single-node schema (use another -clickhouse-database, or drop it ON CLUSTER)", database, t.Name, e)
		default:
			want, err := describe(ctx, conn, scratch+"."+t.Name)
			if err != nil {
				return err
			}
			got, err := describe(ctx, conn, database+"."+t.Name+localSuffix)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("cluster schema of %s: a newer migration changes the columns of %s, which -cluster cannot alter: apply it by hand\nhave:\n%s\nwant:\n%s",
					database, t.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	return nil
}

// checkColumns compares DESCRIBE of every table made (T and T_local) with the single-node
// schema's, so the cluster schema cannot drift from the migrations.
func checkColumns(ctx context.Context, conn Querier, tables []clusterTable, scratch, database string) error {
	for _, t := range tables {
		if t.Engine == "MaterializedView" {
			continue
		}
		want, err := describe(ctx, conn, scratch+"."+t.Name)
		if err != nil {
			return err
		}
		for _, name := range []string{t.Name, t.Name + localSuffix} {
			got, err := describe(ctx, conn, database+"."+name)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("cluster schema of %s: %s has other columns than the single-node %s\nhave:\n%s\nwant:\n%s",
					database, name, t.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	return nil
}

// ErrLayout is returned by CheckLayout when the database's layout and the -cluster setting
// disagree.
var ErrLayout = errors.New("schema layout does not match -cluster")

// CheckLayout checks that conn's database is laid out as cluster says: events a Distributed table
// when cluster is set (spacepulse-migrate -cluster made it), a table of its own when it is empty.
// A writer without -cluster on a cluster's schema would insert asynchronously (the Distributed
// table queues the rows and answers at once), so a committed offset would not mean the rows are
// on their shard.
func CheckLayout(ctx context.Context, conn Querier, cluster string) error {
	var engine string
	err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'events'").Scan(&engine)
	if err != nil {
		return fmt.Errorf("read the engine of events: %w", err)
	}
	switch {
	case cluster == "" && engine == "Distributed":
		return fmt.Errorf("events is a Distributed table (spacepulse-migrate -cluster made this schema): set -cluster NAME (SPACEPULSE_CLUSTER) so that inserts are synchronous: %w", ErrLayout)
	case cluster != "" && engine != "Distributed":
		return fmt.Errorf("events is a %s table, not Distributed: -cluster %s needs the schema of spacepulse-migrate -cluster %s: %w", engine, cluster, cluster, ErrLayout)
	}
	return nil
}
