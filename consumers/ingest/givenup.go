package ingest

import (
	"context"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
)

// A batch's partitions can be given up while it waits to land: revoked in a rebalance (after
// GroupConfig.RevokeWait) or lost, typically while ClickHouse is down and the insert is retried.
// Their new owner reads their uncommitted messages again and lands them; if this member landed
// them too, once ClickHouse answered again, the events table would hold them twice (the copy
// sweep repairs the rollups, not the raw table). So before every attempt the writer drops the
// rows of partitions the fetcher no longer owns and forgets them in the landed-event index (they
// may come back to this member later, unlanded), and the commit leaves those partitions out.

// givenUp returns the partitions of bt that src no longer owns (nil: it owns them all).
func (p *Pipeline) givenUp(bt *batch) map[int]bool {
	var out map[int]bool
	for _, m := range bt.commits { // one message per partition of the batch
		if !p.src.Owns(m.Topic, m.Partition) {
			if out == nil {
				out = map[int]bool{}
			}
			out[m.Partition] = true
		}
	}
	return out
}

// dropGivenUp removes from bt the rows, commits and marks of the partitions in lost, forgets
// those rows in the landed-event index, and reports how many rows it dropped.
func (p *Pipeline) dropGivenUp(bt *batch, lost map[int]bool) int {
	bt.commits = keepMessages(bt.commits, lost)
	marks := bt.marks[:0]
	for _, m := range bt.marks {
		if !lost[m.partition] {
			marks = append(marks, m)
		}
	}
	bt.marks = marks
	if bt.rec == nil {
		return 0
	}
	parts := bt.rec.Column(schemas.ColKafkaPartition).(*array.Int32)
	var gone []refusal // rows to forget, as forgetRefused takes them
	var runs [][2]int64
	start := int64(-1)
	for i := 0; i < int(bt.rec.NumRows()); i++ {
		if lost[int(parts.Value(i))] {
			gone = append(gone, refusal{row: i})
			if start >= 0 {
				runs, start = append(runs, [2]int64{start, int64(i)}), -1
			}
			continue
		}
		if start < 0 {
			start = int64(i)
		}
	}
	if start >= 0 {
		runs = append(runs, [2]int64{start, bt.rec.NumRows()})
	}
	if len(gone) == 0 {
		return 0
	}
	p.forgetRefused(bt.rec, gone)
	kept := concatRows(bt.rec, runs, p.mem)
	bt.rec.Release()
	bt.rec = kept
	bt.valid -= len(gone)
	return len(gone)
}

// keepMessages is msgs without the partitions in lost.
func keepMessages(msgs []kafka.Message, lost map[int]bool) []kafka.Message {
	out := msgs[:0]
	for _, m := range msgs {
		if !lost[m.Partition] {
			out = append(out, m)
		}
	}
	return out
}

// concatRows is a new record of rec's rows in runs [lo, hi), in order; nil when runs is empty.
func concatRows(rec arrow.RecordBatch, runs [][2]int64, mem memory.Allocator) arrow.RecordBatch {
	if len(runs) == 0 {
		return nil
	}
	cols := make([]arrow.Array, rec.NumCols())
	var n int64
	for _, r := range runs {
		n += r[1] - r[0]
	}
	for c := range cols {
		pieces := make([]arrow.Array, len(runs))
		for i, r := range runs {
			pieces[i] = array.NewSlice(rec.Column(c), r[0], r[1])
		}
		col, err := array.Concatenate(pieces, mem)
		for _, piece := range pieces {
			piece.Release()
		}
		if err != nil {
			panic(err) // slices of one array always concatenate
		}
		cols[c] = col
	}
	out := array.NewRecordBatch(rec.Schema(), cols, n)
	for _, col := range cols {
		col.Release()
	}
	return out
}

// landOwned inserts bt's rows of the partitions src still owns, dropping the others first and
// again whenever an attempt fails and ownership changed meanwhile. It returns the refused rows
// of the record it finally inserted (bt.rec), as insert does.
func (p *Pipeline) landOwned(ctx context.Context, bt *batch) ([]refusal, error) {
	for {
		p.leaveGivenUp(bt)
		if bt.rec == nil {
			return nil, nil
		}
		refused, changed, err := p.insert(ctx, bt.rec, bt.again, func() bool { return p.givenUp(bt) != nil })
		if err != nil || !changed {
			return refused, err
		}
		// The insert stopped after a failed attempt, which may have landed rows: the next one
		// inserts only what is not stored.
		bt.again = true
	}
}

// leaveGivenUp drops bt's rows of the partitions given up, if any (dropGivenUp), and logs them.
func (p *Pipeline) leaveGivenUp(bt *batch) {
	if lost := p.givenUp(bt); lost != nil {
		if n := p.dropGivenUp(bt, lost); n > 0 {
			p.stats.GivenUp.Add(int64(n))
			p.cfg.Logger.Warn("events of partitions given up left to their new owner",
				slog.Int("events", n), slog.Int("partitions", len(lost)), slog.Int("kept", bt.valid))
		}
	}
}
