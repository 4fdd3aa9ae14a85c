package harness

import (
	"slices"
	"testing"

	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// TestOursListsEveryMigratedTable: Drop refuses a database holding a table not in ours, so a
// migration that adds a table must add it there, or the demo and bench cannot start over.
func TestOursListsEveryMigratedTable(t *testing.T) {
	conn, cfg := warehousetest.NewDatabase(t)
	rows, err := conn.Query(t.Context(), "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !slices.Contains(ours, name) {
			t.Errorf("migrations create %s.%s, which harness.ours does not list", cfg.Database, name)
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("listed %d tables: %v", n, err)
	}
}
