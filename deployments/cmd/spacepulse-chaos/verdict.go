package main

import (
	"context"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Verdict is what a run found, against the ground truth.
type Verdict struct {
	// Lost is the generated events whose id is not in the events table.
	Lost int64
	// DoubleCounted is ExtraRows + Foreign + Excess: an event counted more than once anywhere.
	DoubleCounted int64
	// ExtraRows is the rows of the events table beyond one per event id (a copy landed twice and
	// not yet folded by a merge); Foreign the ids there that were never generated; Excess what
	// the figures read through sql/queries count above the truth (groundtruth.Checker.Excess).
	ExtraRows, Foreign, Excess int64
	// WrongSeconds is the seconds of the concurrency curves that differ from the truth.
	WrongSeconds int64
	// WrongFigures is every figure and point that differs (the wrong seconds and the counts
	// above the truth included), of Compared.
	WrongFigures, Compared int
}

// OK reports whether nothing was lost, double-counted or wrong.
func (v Verdict) OK() bool {
	return v.Lost == 0 && v.DoubleCounted == 0 && v.WrongSeconds == 0 && v.WrongFigures == 0
}

// Line is the run's verdict line.
func (v Verdict) Line() string {
	return fmt.Sprintf("lost %d, double-counted %d, wrong seconds %d", v.Lost, v.DoubleCounted, v.WrongSeconds)
}

// judge compares the ids the run generated with the rows the events table holds per id (stored)
// and adds the figures c compared.
func judge(generated map[uuid.UUID]struct{}, stored map[uuid.UUID]uint64, c *groundtruth.Checker) Verdict {
	v := Verdict{Excess: c.Excess, WrongSeconds: int64(c.WrongSeconds), WrongFigures: len(c.Mismatches), Compared: c.Compared}
	for id := range generated {
		if stored[id] == 0 {
			v.Lost++
		}
	}
	for id, rows := range stored {
		if _, ok := generated[id]; !ok {
			v.Foreign++
		}
		v.ExtraRows += int64(rows) - 1
	}
	v.DoubleCounted = v.ExtraRows + v.Foreign + v.Excess
	return v
}

// storedIDs reads every event id of the events table with its number of rows (not merged away
// yet: no FINAL).
func storedIDs(ctx context.Context, conn warehouse.Querier) (map[uuid.UUID]uint64, error) {
	rows, err := conn.Query(ctx, "SELECT event_id, count() FROM events GROUP BY event_id")
	if err != nil {
		return nil, fmt.Errorf("read the event ids: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]uint64)
	for rows.Next() {
		var id uuid.UUID
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("read the event ids: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the event ids: %w", err)
	}
	return out, nil
}

// printMismatches writes the first n differences the checker found.
func printMismatches(out io.Writer, c *groundtruth.Checker, n int) {
	for _, m := range c.Mismatches[:min(len(c.Mismatches), n)] {
		fmt.Fprintln(out, "    "+m)
	}
	if len(c.Mismatches) > n {
		fmt.Fprintf(out, "    … and %d more\n", len(c.Mismatches)-n)
	}
}
