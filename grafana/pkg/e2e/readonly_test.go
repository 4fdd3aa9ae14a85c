package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// The datasource's read-only user of deployments/local/clickhouse/users.xml: profile readonly = 1
// with its own limits, and allow_databases spacepulse and grafanaTestDB.
const (
	grafanaUser = warehousetest.GrafanaUser
	// grafanaTestDB is the one database of its allow list that is the tests'. It is shared by
	// every test process against the server, so it is migrated and given the scenario's events
	// once, under a lock, and never written after that.
	grafanaTestDB = "spacepulse_grafana_test"
	// profileMaxResultRows is max_result_rows of its profile.
	profileMaxResultRows = 1_000_000
)

// grafanaUserDB returns the admin Config of grafanaTestDB, migrated and holding the scenario's
// events, and the read-only user's password, skipping or failing t per the gate when the
// password file is missing.
func grafanaUserDB(t *testing.T) (warehouse.Config, string) {
	t.Helper()
	pw, err := os.ReadFile(warehousetest.GrafanaPasswordFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := warehousetest.Config(grafanaTestDB)
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), grafanaTestDB+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := warehouse.Setup(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("set up database %s: %v", grafanaTestDB, err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		t.Fatalf("count events of %s: %v", grafanaTestDB, err)
	}
	if n == 0 { // the first test against this server: the scenario's events, once
		insert(t, conn, scenario())
	}
	return cfg, strings.TrimSpace(string(pw))
}

// TestReadonlyUser runs the plugin as the read-only user: the panels' queries work, the
// profile's limits hold whatever the datasource settings or the SQL say, and nothing can write,
// change a setting or read a database outside the allow list, template variables included.
func TestReadonlyUser(t *testing.T) {
	admin, pw := grafanaUserDB(t)
	ro := withUser(admin, grafanaUser)
	// A row limit above the profile's: the server's limit must still hold.
	in := newInstance(ro, pw, map[string]any{"rowLimit": 5 * profileMaxResultRows, "timeoutSeconds": 600})
	otherConn, other := warehousetest.NewDatabase(t) // not on the allow list
	insert(t, otherConn, scenario())
	c := launch(t)
	from, to := t0, t0.Add(10*time.Minute)

	if h := c.checkHealth(t, in); h.Status != backend.HealthStatusOk || !strings.Contains(h.Message, "read-only user") {
		t.Fatalf("CheckHealth as %s: %v %s", grafanaUser, h.Status, h.Message)
	}
	// Every query type runs (the plugin sends no setting a readonly = 1 user may not change).
	for _, model := range []map[string]any{
		{"queryType": "concurrency", "rooms": []string{"room-a"}},
		{"queryType": "activity", "rooms": []string{"room-a"}},
		{"queryType": "joinFailureRate", "rooms": []string{"room-a"}},
		{"queryType": "joinFailureRate", "rooms": []string{"room-a"}, "groupBy": "client"},
		{"queryType": "errorsByCode", "rooms": []string{"room-a"}},
		{"queryType": "joinLatency", "rooms": []string{"room-a"}},
		{"queryType": "sql", "rawSql": "SELECT count() FROM events WHERE $__timeFilter(ts)"},
	} {
		r := c.queryData(t, in, nil, query{refID: "A", model: model, from: from, to: to, interval: time.Minute}).Responses["A"]
		if r.Error != nil {
			t.Errorf("%v as %s: %v", model, grafanaUser, r.Error)
		}
	}
	if status, body := c.resource(t, in, "rooms"); status != 200 {
		t.Errorf("rooms resource as %s: %d %s", grafanaUser, status, body)
	}

	raw := func(sql string) backend.DataResponse {
		t.Helper()
		return c.queryData(t, in, nil, query{refID: "A", model: map[string]any{"queryType": "sql", "rawSql": sql},
			from: from, to: to, interval: time.Minute}).Responses["A"]
	}
	mustFail := func(sql, want string) {
		t.Helper()
		r := raw(sql)
		switch {
		case r.Error == nil:
			t.Errorf("%s: no error, want %q", sql, want)
		case !strings.Contains(r.Error.Error(), want):
			t.Errorf("%s: error %v, want %q", sql, r.Error, want)
		case r.ErrorSource != backend.ErrorSourceDownstream:
			t.Errorf("%s: error %v is not marked downstream", sql, r.Error)
		}
	}
	// The profile is what the session runs with. (Not read in a subquery: one runs with
	// max_result_rows = 0, the limit being the outer query's.)
	r := raw("SELECT arrayStringConcat(arraySort(groupArray(concat(name, '=', value))), ',') FROM system.settings" +
		" WHERE name IN ('readonly', 'max_execution_time', 'max_result_rows', 'result_overflow_mode')")
	if r.Error != nil {
		t.Fatalf("read the session's settings: %v", r.Error)
	}
	want := fmt.Sprintf("max_execution_time=60,max_result_rows=%d,readonly=1,result_overflow_mode=throw", profileMaxResultRows)
	if got, _ := r.Frames[0].Fields[0].ConcreteAt(0); got != want {
		t.Errorf("settings as %s: %v, want %s", grafanaUser, got, want)
	}
	// No setting can change: 18.16 says "Cannot execute SET query in readonly mode", current
	// servers "Cannot modify '…' setting in readonly mode".
	for _, sql := range []string{
		"SELECT count() FROM events SETTINGS max_execution_time = 1000",
		"SELECT count() FROM events SETTINGS readonly = 0",
		"SELECT number FROM system.numbers LIMIT 2000000 SETTINGS max_result_rows = 0",
		"SET readonly = 0",
		"SET max_result_rows = 0",
	} {
		mustFail(sql, "readonly mode")
	}
	// Nothing can be written, created or dropped.
	for _, sql := range []string{
		"INSERT INTO events SELECT * FROM events",
		"DROP TABLE events",
		"DROP DATABASE " + grafanaTestDB,
		"CREATE TABLE pwned (x UInt8) ENGINE = TinyLog",
		"CREATE DATABASE pwned",
		"ALTER TABLE events DELETE WHERE 1",
		"TRUNCATE TABLE space_second_counts",
		"OPTIMIZE TABLE events FINAL",
	} {
		mustFail(sql, "readonly mode")
	}
	// Another database is out of reach, named in the query or as the datasource's database.
	for _, sql := range []string{
		"SELECT count() FROM " + other.Database + ".events",
		"SELECT count() FROM " + grafanaTestDB + ".events WHERE space_id IN (SELECT space_id FROM " + other.Database + ".events)",
		"SELECT count() FROM default.events",
	} {
		mustFail(sql, "Access denied to database")
	}
	// 18.16 closes the connection without saying why; the message names the allow list.
	if h := c.checkHealth(t, newInstance(withDB(ro, other.Database), pw, nil)); h.Status != backend.HealthStatusError ||
		!strings.Contains(h.Message, "allow_databases") {
		t.Errorf("CheckHealth as %s on %s: %v %s, want an error naming allow_databases", grafanaUser, other.Database, h.Status, h.Message)
	}
	// The profile's row limit holds although the datasource's is higher.
	mustFail("SELECT number FROM system.numbers LIMIT 2000000", "Limit for result exceeded")
	// One statement per query.
	mustFail("SELECT 1; DROP TABLE events", "Multi-statements are not allowed")
}

// sqlstring is Grafana's 'sqlstring' variable format, which the datasource's
// applyTemplateVariables uses for raw SQL: single quotes doubled, nothing else escaped.
func sqlstring(v string) string { return strings.ReplaceAll(v, "'", "''") }

// TestReadonlyUserTemplateInjection puts injection attempts into a dashboard variable of a raw
// query as the front end interpolates it. sqlstring leaves a backslash alone, so `\'` closes
// ClickHouse's string literal and the rest is SQL: whatever that SQL asks for (another
// statement, a setting, a write, another database) the read-only user is refused.
func TestReadonlyUserTemplateInjection(t *testing.T) {
	admin, pw := grafanaUserDB(t)
	in := newInstance(withUser(admin, grafanaUser), pw, nil)
	otherConn, other := warehousetest.NewDatabase(t)
	insert(t, otherConn, scenario())
	before := snapshot(t, otherConn)
	c := launch(t)
	const panel = "SELECT count() AS n FROM events WHERE space_id = '$room' AND $__timeFilter(ts)"

	f := func(value, want string) {
		t.Helper()
		sql := strings.ReplaceAll(panel, "$room", sqlstring(value))
		r := c.queryData(t, in, nil, query{refID: "A", model: map[string]any{"queryType": "sql", "rawSql": sql},
			from: t0, to: t0.Add(10 * time.Minute), interval: time.Minute}).Responses["A"]
		if want == "" { // stays inside the literal: an ordinary query for an odd room
			if r.Error != nil {
				t.Errorf("room %q: %v", value, r.Error)
			} else if n, _ := r.Frames[0].Fields[0].ConcreteAt(0); n != uint64(0) {
				t.Errorf("room %q: count %v, want 0", value, n)
			}
			return
		}
		if r.Error == nil || !strings.Contains(r.Error.Error(), want) {
			t.Errorf("room %q (SQL %s): error %v, want %q", value, sql, r.Error, want)
		}
	}
	f("x' OR 1=1 --", "")
	f("room-a'); DROP TABLE events; --", "")
	f(`x\' OR 1=1 SETTINGS max_result_rows = 0 --`, "readonly mode")
	f(`x\' OR 1=1 SETTINGS readonly = 0 --`, "readonly mode")
	f(`x\'; DROP TABLE events; --`, "Multi-statements are not allowed")
	f(`x\' OR 1=1; INSERT INTO events SELECT * FROM events; --`, "Multi-statements are not allowed")
	f(`x\' UNION ALL SELECT count() FROM `+other.Database+`.events --`, "Access denied to database")
	if after := snapshot(t, otherConn); after != before {
		t.Errorf("the warehouse changed:\nbefore %s\n after %s", before, after)
	}
}
