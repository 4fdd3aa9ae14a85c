package plugin

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Readonly is the ClickHouse readonly level of the datasource's user, read from the server when
// the plugin connects: it decides which settings the plugin may send with a query.
type Readonly uint8

const (
	// ReadWrite (readonly = 0, e.g. the default user): the plugin sends readonly = 2 and the
	// limits with each raw query, max_execution_time with every query.
	ReadWrite Readonly = 0
	// ReadOnlyFixed (readonly = 1, e.g. spacepulse_grafana of deployments/local): no setting may
	// change, so the plugin sends none; the user's profile sets max_execution_time,
	// max_result_rows and the rest, and neither a query's SETTINGS clause nor SET can raise
	// them (18.16 also drops settings a client sends; current servers refuse them).
	ReadOnlyFixed Readonly = 1
	// ReadOnlySettable (readonly = 2): reads only, settings but readonly may change; the plugin
	// sends the limits as for ReadWrite.
	ReadOnlySettable Readonly = 2
)

// readonlyOf reads the readonly level of conn's session.
func readonlyOf(ctx context.Context, conn driver.Conn) (Readonly, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the user's readonly setting: %w", err)
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil || n > uint64(ReadOnlySettable) {
		return 0, fmt.Errorf("read the user's readonly setting: want 0, 1 or 2, got %q", v)
	}
	return Readonly(n), nil
}

// querySettings are the settings sent with one query: for a raw query (raw) readonly = 2 unless
// the session is read-only already, the timeout as max_execution_time and the row limit as
// max_result_rows (its overflow mode defaults to throw; 18.16 takes only integer settings over
// the native protocol, so the mode is not sent); for the plugin's own queries only the timeout.
// Nil for a ReadOnlyFixed user, whose server refuses (or ignores) any setting.
func querySettings(ro Readonly, timeout time.Duration, rowLimit int, raw bool) clickhouse.Settings {
	if ro == ReadOnlyFixed {
		return nil
	}
	s := clickhouse.Settings{"max_execution_time": int(timeout / time.Second)}
	if raw {
		s["max_result_rows"] = rowLimit
		if ro == ReadWrite {
			s["readonly"] = int(ReadOnlySettable)
		}
	}
	return s
}

// withSettings puts the settings of one query (querySettings) in ctx.
func (d *Datasource) withSettings(ctx context.Context, raw bool) context.Context {
	s := querySettings(Readonly(d.readonly.Load()), d.settings.Timeout, d.settings.RowLimit, raw)
	if s == nil {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(s))
}
