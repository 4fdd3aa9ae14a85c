package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

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
	// EXISTS, DROP … IF EXISTS, OPTIMIZE, and a rollup's backfill from events (its migration
	// drops and creates the table again first; 0004's uniqExact states hold each id once anyway).
	repeatable := regexp.MustCompile(`(?m)^(CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS \{db\}\.|` +
		`DROP (TABLE|VIEW) IF EXISTS \{db\}\.|OPTIMIZE TABLE \{db\}\.events FINAL$|` +
		`INSERT INTO \{db\}\.(space_second|space_second_counts|space_minute_counts|join_latency_minute_counts) \(.*\)\nSELECT)`)
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

// TestUpgradeKeepsFigures upgrades a schema-4 warehouse with data to the latest schema: the old
// events hold copies (at-least-once delivery before 0005), and a writer keeps inserting new
// events while the migration runs, across its cutover. Afterwards events holds each event once
// and every figure equals the brute-force one; before the upgrade the old queries' figures were
// the same ones, so the upgrade changes none.
func TestUpgradeKeepsFigures(t *testing.T) {
	conn, cfg := newTestDB(t)
	ctx := testContext(t)
	ms, err := warehouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// A schema-4 warehouse in a database of its own.
	db := cfg.Database + "_upgrade"
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".schema_migrations (version UInt32, name String, "+
		"applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree() ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:4] {
		for _, stmt := range m.Statements {
			if err := conn.Exec(ctx, strings.ReplaceAll(stmt, "{db}", db)); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name) SELECT toUInt32(%d), '%s'", db, m.Version, m.Name)); err != nil {
			t.Fatal(err)
		}
	}
	old, err := warehouse.Open(ctx, testConfig(db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	evs := generate(5, "upgrade-room", t0, 300, 10)
	batches := deliver(6, evs, 12)
	// Before the upgrade: the first half, with copies (a batch twice, as after a crash).
	for _, b := range batches[:6] {
		insertEvents(t, ctx, old, b)
	}
	insertEvents(t, ctx, old, batches[2])
	insertEvents(t, ctx, old, batches[4][:len(batches[4])/2])
	// During the upgrade: a writer inserts the next batches a few hundred ms apart, so some land
	// before the cutover and some after it.
	var serverStart uint32
	if err := conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&serverStart); err != nil {
		t.Fatal(err)
	}
	during := make(chan error, 1)
	go func() {
		defer close(during)
		for _, b := range batches[6:10] {
			if err := insertBatch(ctx, old, b); err != nil {
				during <- err
				return
			}
			time.Sleep(1500 * time.Millisecond)
		}
	}()
	upgraded, applied, err := warehouse.Setup(ctx, testConfig(db), nil)
	if err != nil || !slices.Equal(applied, []int{5, 6, 7}) {
		t.Fatalf("upgrade = %v, %v; want migrations 5, 6 and 7 applied", applied, err)
	}
	defer upgraded.Close()
	if err := <-during; err != nil {
		t.Fatalf("insert during the upgrade: %v", err)
	}
	// The writer's rows must straddle the cutover (about 2 s after the migration started), or
	// the split between backfill and views was not tested.
	var first, last uint32
	if err := upgraded.QueryRow(ctx, "SELECT toUInt32(min(inserted_at)), toUInt32(max(inserted_at)) FROM events "+
		"WHERE inserted_at >= toDateTime(@start, 'UTC') AND inserted_at <= now()",
		clickhouse.Named("start", serverStart)).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if first > serverStart+1 || last < serverStart+4 {
		t.Fatalf("rows inserted during the upgrade at +%d..+%d s of its start: want some before and some after the cutover (+2 s)",
			first-serverStart, last-serverStart)
	}
	for _, b := range batches[10:] {
		insertEvents(t, ctx, upgraded, b)
	}
	var stored, distinct uint64
	if err := upgraded.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	if stored != uint64(len(evs)) || distinct != stored {
		t.Fatalf("events holds %d rows, %d distinct after the upgrade; want %d, each once", stored, distinct, len(evs))
	}
	for _, gone := range []string{"space_second", "space_second_sealed", "space_minute", "space_second_mv", "space_minute_mv"} {
		var n uint64
		if err := upgraded.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = @name",
			clickhouse.Named("name", gone)).Scan(&n); err != nil || n != 0 {
			t.Fatalf("table %s after the upgrade: %d, %v; want dropped", gone, n, err)
		}
	}
	m := newModel(evs)
	from, to := t0.Unix()-60, t0.Unix()+11*60
	fromT, toT := time.Unix(from, 0).UTC(), time.Unix(to, 0).UTC()
	got, err := warehouse.Concurrency(ctx, upgraded, "upgrade-room", fromT, toT)
	if err != nil {
		t.Fatal(err)
	}
	if want := m.concurrency("upgrade-room", from, to); !reflect.DeepEqual(got, want) {
		t.Fatalf("concurrency after the upgrade differs from the brute-force curve (%d points, want %d)", len(got), len(want))
	}
	sum, err := warehouse.Summary(ctx, upgraded, "upgrade-room", fromT, toT)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := summaryString(sum), summaryString(m.summary("upgrade-room", from, to)); g != w {
		t.Fatalf("summary after the upgrade\n got %s\nwant %s", g, w)
	}
	for _, dim := range []string{"", "country"} { // the latency rollups: backfilled, then by their views
		lat, err := warehouse.JoinLatency(ctx, upgraded, "upgrade-room", fromT, toT, time.Minute, dim)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := latencyOf(lat), m.latency("upgrade-room", from, to, 60, dim); !reflect.DeepEqual(g, w) {
			t.Fatalf("join latency by %q after the upgrade\n got %.400v\nwant %.400v", dim, g, w)
		}
	}
	rows, err := warehouse.FailuresBy(ctx, upgraded, "upgrade-room", fromT, toT, "code")
	if err != nil {
		t.Fatal(err)
	}
	want := m.breakdown("upgrade-room", from, to, "code")
	if len(rows) != len(want) {
		t.Fatalf("FailuresBy(code) after the upgrade: %d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if w := want[r.Value]; !sameBreakdown(r, w) {
			t.Fatalf("FailuresBy(code)[%q] = %+v, want %+v", r.Value, r, w)
		}
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
