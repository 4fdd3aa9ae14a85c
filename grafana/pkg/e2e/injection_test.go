package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// payloads are SQL injection attempts, each put into every string input.
var payloads = []string{
	"x' OR 1=1 --",
	"room-a' OR '1'='1",
	"room-a'); DROP TABLE events; --",
	`room-a\'; DROP TABLE events; --`,
	"client) OR 1=1 --",
	"code; DROP TABLE space_second_counts",
	"room-a' UNION ALL SELECT name, now(), now() FROM system.tables --",
}

// rawPayloads are raw SQL queries that try to write, drop or escape the limits.
var rawPayloads = []string{
	"DROP TABLE events",
	"SELECT 1; DROP TABLE events",
	"INSERT INTO events SELECT * FROM events",
	"CREATE TABLE pwned (x UInt8) ENGINE = Memory",
	"ALTER TABLE events DELETE WHERE 1",
	"TRUNCATE TABLE space_second_counts",
	"SELECT * FROM events WHERE $__timeFilter(ts); DROP TABLE events",
	"SELECT * FROM events WHERE $__timeFilter(ts) OR 1=1) --)",
	"SELECT count() FROM events SETTINGS readonly = 0",
	"SET readonly = 0",
	"SELECT number FROM system.numbers",
	"SELECT * FROM events WHERE $__unknownMacro",
}

// snapshot is the row counts of the test database and every table of the server, but for other
// tests' databases: packages tested in parallel create and drop them, and every one of them is
// named spacepulse_<purpose>_<random> (spacepulse_test_, spacepulse_lag_, spacepulse_kill_,
// spacepulse_derive_ ...), while a real warehouse's database is not ("spacepulse", "default").
func snapshot(t *testing.T, conn driver.Conn) string {
	t.Helper()
	var events, seconds, minutes uint64
	var tables string
	row := conn.QueryRow(ctx(t), `SELECT
		(SELECT count() FROM events), (SELECT count() FROM space_second_counts), (SELECT count() FROM space_minute_counts),
		(SELECT arrayStringConcat(groupArray(concat(database, '.', name)), ',') FROM (SELECT database, name FROM system.tables
			WHERE database != 'system' AND (database = currentDatabase() OR NOT match(database, '^spacepulse_[a-z]+_'))
			ORDER BY database, name))`)
	if err := row.Scan(&events, &seconds, &minutes, &tables); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return fmt.Sprint(events, seconds, minutes, tables)
}

// TestInjectionChangesNothing puts SQL injection attempts through every string input of the
// plugin (query fields, raw SQL, resource parameters, stream paths) and checks each is refused
// with an error and the warehouse is unchanged.
func TestInjectionChangesNothing(t *testing.T) {
	conn, cfg, _ := newDB(t)
	in := newInstance(cfg, cfg.Password, map[string]any{"rowLimit": 1000, "timeoutSeconds": 5})
	evs := scenario()
	insert(t, conn, evs)
	c := launch(t)
	before := snapshot(t, conn)
	from, to := t0, t0.Add(10*time.Minute)

	mustFail := func(name string, model map[string]any) {
		t.Helper()
		resp := c.queryData(t, in, nil, query{refID: "A", model: model, from: from, to: to, interval: time.Minute})
		r := resp.Responses["A"]
		if r.Error == nil {
			t.Errorf("%s: %v: no error (%d frames)", name, model, len(r.Frames))
		} else if name == "rawSql" {
			t.Logf("%s refused: %.160s", model["rawSql"], r.Error)
		} else if r.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("%s: %v: error %v is not marked downstream", name, model, r.Error)
		}
	}
	for _, p := range payloads {
		for _, qt := range []string{"concurrency", "activity", "joinFailureRate", "errorsByCode", "joinLatency"} {
			mustFail("room", map[string]any{"queryType": qt, "rooms": []string{p}})
			mustFail("groupBy", map[string]any{"queryType": qt, "rooms": []string{"room-a"}, "groupBy": p})
		}
		mustFail("queryType", map[string]any{"queryType": p, "rooms": []string{"room-a"}})
		mustFail("reduce", map[string]any{"queryType": "concurrency", "rooms": []string{"room-a"}, "reduce": p})
		mustFail("rate", map[string]any{"queryType": "joinFailureRate", "rooms": []string{"room-a"}, "rate": p})
		mustFail("percentiles", map[string]any{"queryType": "joinLatency", "rooms": []string{"room-a"}, "percentiles": []string{p}})
		mustFail("format", map[string]any{"queryType": "sql", "rawSql": "SELECT 1", "format": p})
		mustFail("timeFilter column", map[string]any{"queryType": "sql", "rawSql": "SELECT count() FROM events WHERE $__timeFilter(" + p + ")"})

		for _, res := range []string{
			"values?dimension=" + url.QueryEscape(p),
			"values?dimension=client&room=room-a&from=" + url.QueryEscape(p),
			"rooms?limit=" + url.QueryEscape(p),
			"rooms?to=" + url.QueryEscape(p),
		} {
			if status, body := c.resource(t, in, res); status != 400 {
				t.Errorf("resource %s: status %d %s, want 400", res, status, body)
			}
		}
		// A room is a bound value: an injected one is just a room without values.
		if status, body := c.resource(t, in, "values?dimension=client&room="+url.QueryEscape(p)); status != 200 || string(body) != "[]" {
			t.Errorf("values of room %q: %d %s, want 200 []", p, status, body)
		}
		pc := backend.ToProto().PluginContext(in.pc)
		for _, path := range []string{p, "concurrency/" + p, "concurrency/" + strings.TrimRight(b64(p), "=")} {
			sub, err := c.stream.SubscribeStream(ctx(t), &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: path})
			if err != nil || sub.Status == pluginv2.SubscribeStreamResponse_OK {
				t.Errorf("subscribe %q: %v %v, want not found", path, sub, err)
			}
		}
	}
	for _, sql := range rawPayloads {
		mustFail("rawSql", map[string]any{"queryType": "sql", "rawSql": sql})
	}
	if after := snapshot(t, conn); after != before {
		t.Errorf("the warehouse changed:\nbefore %s\n after %s", before, after)
	}
	// The datasource still answers.
	frames := c.one(t, in, query{from: from, to: to, interval: time.Minute,
		model: map[string]any{"queryType": "concurrency", "rooms": []string{"room-a"}}})
	if frames[0].Rows() == 0 {
		t.Errorf("no rows after the injections")
	}
}
