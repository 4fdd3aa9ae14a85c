package warehouse_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
	// Statements that can be applied again after a migration was cut short: CREATE … IF NOT
	// EXISTS, DROP … IF EXISTS, and a rollup's backfill from events (after its table was
	// dropped and created again; a uniqExact state holds each event id once anyway).
	repeatable := regexp.MustCompile(`(?m)^(CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS \{db\}\.|` +
		`DROP (TABLE|VIEW) IF EXISTS \{db\}\.|INSERT INTO \{db\}\.space_second \(.*\)\nSELECT)`)
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if !repeatable.MatchString(stmt) {
				t.Fatalf("migration %d_%s statement %d cannot be applied twice safely:\n%s", m.Version, m.Name, i+1, stmt)
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

// TestUpgradeKeepsFigures applies the migrations before sealed cells (1..3), stores events,
// then upgrades: the backfill gives the old cells their row counts, a migration run again (as
// after being cut short) changes nothing, sealing works on the old cells, and every curve
// still equals the brute-force one.
func TestUpgradeKeepsFigures(t *testing.T) {
	conn, cfg := newTestDB(t)
	ctx := testContext(t)
	ms, err := warehouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// Start over at version 3 in a database of its own.
	db := cfg.Database + "_upgrade"
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		for _, stmt := range m.Statements {
			if err := conn.Exec(ctx, strings.ReplaceAll(stmt, "{db}", db)); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
	}
	old, err := warehouse.Open(ctx, testConfig(db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	evs := generate(5, "upgrade-room", t0, 300, 10)
	batches := deliver(6, evs, 3)
	insertEvents(t, ctx, old, batches[0])
	upgraded, applied, err := warehouse.Setup(ctx, testConfig(db), nil)
	if err != nil || !slices.Contains(applied, 4) {
		t.Fatalf("upgrade = %v, %v; want migration 4 applied", applied, err)
	}
	_ = upgraded.Close()
	// Setup sealed what migration 4 rebuilt.
	if s, err := warehouse.CellStatus(ctx, old, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || s.Unsealed != 0 || s.Sealed == 0 {
		t.Fatalf("cells after the upgrade: %+v, %v; want every rebuilt cell sealed", s, err)
	}
	// Cut short: forget that anything was applied, and apply everything again.
	if err := conn.Exec(ctx, "DROP TABLE "+db+".schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if applied, err := warehouse.Migrate(ctx, conn, db); err != nil || len(applied) != warehouse.LatestVersion {
		t.Fatalf("migrations again = %v, %v; want all applied without error", applied, err)
	}
	for _, b := range batches[1:] {
		insertEvents(t, ctx, old, b)
	}
	if err := warehouse.Seal(ctx, old, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s, err := warehouse.CellStatus(ctx, old, t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || s.Unsealed != 0 || s.Sealed == 0 {
		t.Fatalf("cells after the upgrade and a seal: %+v, %v; want all sealed", s, err)
	}
	m := newModel(evs)
	from, to := t0.Unix()-60, t0.Unix()+11*60
	got, err := warehouse.Concurrency(ctx, old, "upgrade-room", time.Unix(from, 0), time.Unix(to, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := m.concurrency("upgrade-room", from, to); !reflect.DeepEqual(got, want) {
		t.Fatalf("concurrency after the upgrade differs from the brute-force curve (%d points, want %d)", len(got), len(want))
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
