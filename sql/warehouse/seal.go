package warehouse

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	spsql "github.com/spacepulse/spacepulse/sql"
)

// sealCells is maintenance/seal_cells.sql.
var sealCells = mustReadFile(spsql.Maintenance, "maintenance/seal_cells.sql")

func mustReadFile(fsys fs.FS, name string) string {
	text, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err)
	}
	return string(text)
}

// Seal stores the exact distinct count of every space_second cell (of every space) with from <=
// second <= to whose sealed count is missing or stale, in space_second_sealed: after it, the
// queries read those cells' counts instead of merging their event ids, until a cell gets another
// row. It changes no figure (every query is exact with or without it), only how fast the
// per-second queries answer; it is safe to run concurrently with inserts and with other Seal
// calls. Runs maintenance/seal_cells.sql; from and to are truncated to the second.
func Seal(ctx context.Context, conn Execer, from, to time.Time) error {
	from, to, err := window(from, to, 0)
	if err != nil {
		return fmt.Errorf("seal cells: %w", err)
	}
	err = conn.Exec(ctx, sealCells,
		clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds))
	if err != nil {
		return fmt.Errorf("seal cells %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return nil
}

// SealStatus counts the space_second cells of [from, to] (every space) by how the queries read
// them: Sealed cells by their sealed count, Unsealed ones (never sealed, or rows added since) by
// merging their event ids. For tests, benchmarks and operators.
type SealStatus struct {
	Sealed, Unsealed int64
	// Stale is the part of Unsealed that was sealed once and got rows since.
	Stale int64
}

// CellStatus returns the SealStatus of [from, to]. Runs queries/cell_status.sql.
func CellStatus(ctx context.Context, conn Querier, from, to time.Time) (SealStatus, error) {
	from, to, err := window(from, to, 0)
	if err != nil {
		return SealStatus{}, fmt.Errorf("cell status: %w", err)
	}
	var s SealStatus
	err = conn.QueryRow(ctx, queries["cell_status"],
		clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds)).Scan(&s.Sealed, &s.Unsealed, &s.Stale)
	if err != nil {
		return SealStatus{}, fmt.Errorf("cell status %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return s, nil
}
