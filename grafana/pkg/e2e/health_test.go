package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

func TestCheckHealth(t *testing.T) {
	_, cfg, in := newDB(t)
	c := launch(t)

	got := c.checkHealth(t, in)
	if want := fmt.Sprintf("schema version %d", warehouse.LatestVersion); got.Status != backend.HealthStatusOk || !strings.Contains(got.Message, want) {
		t.Errorf("health of a migrated database: %v %q", got.Status, got.Message)
	}

	f := func(name string, in instance, want string) {
		t.Helper()
		got := c.checkHealth(t, in)
		if got.Status != backend.HealthStatusError || !strings.Contains(got.Message, want) {
			t.Errorf("%s: got %v %q, want an error containing %q", name, got.Status, got.Message, want)
		}
	}
	f("wrong password", newInstance(cfg, "not-the-password", nil), "authentication failed: check the user and password")
	f("unknown user", newInstance(withUser(cfg, "nobody_here"), "", nil), "authentication failed")
	f("missing database", newInstance(withDB(cfg, "spacepulse_no_such_db"), cfg.Password, nil), "database does not exist")
	f("nothing listening", newInstance(withAddr(cfg, "127.0.0.1:1"), cfg.Password, nil), "cannot reach ClickHouse")

	// A database without the schema: the system database has none of our tables.
	f("no schema", newInstance(withDB(warehousetest.Config("system"), "system"), cfg.Password, nil), "no SpacePulse schema")

	// At the current version but a table dropped by hand: named, with what to do.
	conn, cfg2, in2 := newDB(t)
	if err := conn.Exec(t.Context(), "DROP TABLE join_latency_minute_counts_mv"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(t.Context(), "DROP TABLE join_latency_minute_counts"); err != nil {
		t.Fatal(err)
	}
	f("missing table", in2, "database "+cfg2.Database+" lacks table(s) join_latency_minute_counts: run spacepulse-migrate")
}
