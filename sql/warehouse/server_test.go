package warehouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// The tests that need ClickHouse use warehousetest: SPACEPULSE_CLICKHOUSE_ADDR (default
// 127.0.0.1:9000), gate SPACEPULSE_INTEGRATION (unset: run if the server answers; 0: skip; 1:
// must run).

func testConfig(db string) warehouse.Config { return warehousetest.Config(db) }

func needServer(t testing.TB) { warehousetest.NeedServer(t) }

func newTestDB(t testing.TB) (driver.Conn, warehouse.Config) { return warehousetest.NewDatabase(t) }

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
