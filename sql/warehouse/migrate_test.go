package warehouse_test

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := warehouse.Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(ms) != warehouse.LatestVersion || ms[len(ms)-1].Version != warehouse.LatestVersion {
		t.Fatalf("%d migrations, the last %d; want LatestVersion = %d to be the last", len(ms), ms[len(ms)-1].Version, warehouse.LatestVersion)
	}
	createRe := regexp.MustCompile(`(?m)^CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS \{db\}\.`)
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if !createRe.MatchString(stmt) {
				t.Fatalf("migration %d_%s statement %d is not CREATE ... IF NOT EXISTS {db}.name:\n%s", m.Version, m.Name, i+1, stmt)
			}
		}
	}
}

func TestSplitStatements(t *testing.T) {
	f := func(in string, want []string) {
		t.Helper()
		if got := warehouse.SplitStatements(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("SplitStatements(%q) = %q, want %q", in, got, want)
		}
	}
	f("", nil)
	f("-- only a comment\n", nil)
	f("SELECT 1", []string{"SELECT 1"})
	f("-- head\nSELECT 1\n;\nSELECT 2\n", []string{"-- head\nSELECT 1", "SELECT 2"})
	f("SELECT 1\n  ;  \n-- trailing comment\n;\n", []string{"SELECT 1"})
	f("SELECT ';'\n;\nSELECT 2;", []string{"SELECT ';'", "SELECT 2;"})
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	conn, cfg := newTestDB(t) // applied 1..LatestVersion once
	ctx := testContext(t)
	f := func(database string) {
		t.Helper()
		applied, err := warehouse.Migrate(ctx, conn, database)
		if err != nil || len(applied) != 0 {
			t.Fatalf("Migrate(%s) again = %v, %v; want nothing applied", database, applied, err)
		}
	}
	f(cfg.Database)
	f(cfg.Database)
	v, err := warehouse.SchemaVersion(ctx, conn)
	if err != nil || v != warehouse.LatestVersion {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, warehouse.LatestVersion)
	}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&rows); err != nil || rows != warehouse.LatestVersion {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, warehouse.LatestVersion)
	}
	// Setup on a current database applies nothing either.
	again, applied, err := warehouse.Setup(ctx, cfg, nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("Setup again = %v, %v; want nothing applied", applied, err)
	}
	_ = again.Close()
	if _, err := warehouse.Migrate(ctx, conn, "bad-name; DROP DATABASE system"); !errors.Is(err, warehouse.ErrBadDatabaseName) {
		t.Fatalf("Migrate with a bad name: %v, want ErrBadDatabaseName", err)
	}
}

func TestOpenWithoutDatabase(t *testing.T) {
	needServer(t)
	ctx := testContext(t)
	_, err := warehouse.Open(ctx, testConfig("spacepulse_test_does_not_exist"), nil)
	if !errors.Is(err, warehouse.ErrNoDatabase) {
		t.Fatalf("Open of a missing database: %v, want ErrNoDatabase", err)
	}
	conn, err := warehouse.Open(ctx, testConfig("system"), nil)
	if err != nil {
		t.Fatalf("Open(system): %v", err)
	}
	defer conn.Close()
	if v, err := warehouse.SchemaVersion(ctx, conn); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of a database without schema_migrations = %d, %v; want 0", v, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	cfg := testConfig("system")
	cfg.Addr = "127.0.0.1:1" // nothing listens on port 1
	_, err := warehouse.Open(testContext(t), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Open of an unreachable server: %v, want an error naming the address", err)
	}
}
