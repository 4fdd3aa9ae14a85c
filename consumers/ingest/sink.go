package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// insertColumns are the columns of the events table in the order of
// schemas.Schema, plus ts_ms: ts is the event's second (DateTime), ts_ms its
// milliseconds. 18.16 needs an INSERT to name its columns.
const insertColumns = "event_id, kind, ts, ts_ms, space_id, session_id, user_id, role, client, app_version, " +
	"region, country, join_ms, attempt, reason, phase, code, http_status, kafka_partition, kafka_offset"

// Sink inserts Arrow record batches into the ClickHouse events table as one
// native columnar block each (nativeBlock: the record's own buffers), one
// record an INSERT (WriteBlock) or several (WriteBlocks). Its scratch columns
// keep their capacity from batch to batch. A Sink is used by one goroutine at
// a time.
type Sink struct {
	conn  driver.Conn
	query string
	// Resend, when set, makes an insert after a failed attempt of the same record send the
	// identical block again instead of asking ClickHouse which of its events landed: on a cluster
	// (NewClusterSink) each shard's replicated insert deduplication drops the part of the block it
	// took the first time (by its checksum, kept in ZooKeeper for the last 1,000 blocks; see
	// warehouse.MigrateCluster), materialized views included, whichever replica or initiator the
	// retry reaches, and a lookup through the Distributed table could read a replica that has
	// not fetched that part yet. Every block then carries inserted_at, the consumer's clock at the
	// first attempt, so that the retry is identical. A record other than the last attempt's (rows
	// given up or refused meanwhile) is looked up as without Resend.
	Resend bool
	last   arrow.RecordBatch // the record of the last attempt (Resend), held only to compare
	lastAt time.Time         // its inserted_at

	// Reconcile, when not nil, receives the event-time range of a block inserted after a failed
	// attempt: a server that died during that attempt may have kept its events but not all of
	// its rollup rows (see warehouse.Reconcile). When it fails (the server died again meanwhile,
	// say), WriteBlock fails with a reconcileError, a transient error: the writer retries the
	// block with again, which finds its rows landed and reconciles the range again, and does not
	// commit the batch before a reconcile has succeeded.
	Reconcile func(ctx context.Context, from, to time.Time) error

	block nativeBlock // the columns of the record being inserted
}

// NewSink returns a Sink writing to database.events through conn.
func NewSink(conn driver.Conn, database string) *Sink {
	return &Sink{conn: conn, query: "INSERT INTO " + quoteIdent(database) + ".events (" + insertColumns + ")"}
}

// NewClusterSink is NewSink for a cluster (warehouse.Config.Cluster set): events is a Distributed
// table over replicated ones, conn inserts synchronously, and a retry resends its block (Resend).
func NewClusterSink(conn driver.Conn, database string) *Sink {
	s := NewSink(conn, database)
	s.query = strings.TrimSuffix(s.query, ")") + ", inserted_at)"
	s.Resend = true
	return s
}

// WriteBlock inserts every row of rec. With again (an earlier attempt failed
// and may have landed rows) it first asks ClickHouse which of rec's events
// are stored and inserts only the others.
func (s *Sink) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	resend := s.Resend && again && rec == s.last
	if s.Resend && !resend {
		s.last, s.lastAt = rec, time.Now().Truncate(time.Second)
	}
	s.block.fill(rec, s.lastAt)
	if again && !resend {
		keep, err := s.notStored(ctx, rec)
		if err != nil {
			return err
		}
		if len(keep) == 0 {
			// Every row landed in the failed attempt, but its view parts may not have:
			// the rollups of the whole block are checked all the same.
			return s.reconcile(ctx, rec)
		}
		if keep[0] != [2]int64{0, rec.NumRows()} {
			kept := concatRows(rec, keep, memory.DefaultAllocator)
			defer kept.Release()
			s.block.fill(kept, s.lastAt)
		}
	}
	n := len(s.block.ms)
	b, err := s.conn.PrepareBatch(ctx, s.query)
	if err != nil {
		return fmt.Errorf("prepare insert of %d rows: %w", n, err)
	}
	defer b.Abort() //nolint:errcheck // no-op after Send
	if err := s.block.setColumns(b.Columns(), s.Resend); err != nil {
		return fmt.Errorf("insert of %d rows: %w", n, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into events: %w", n, err)
	}
	if again {
		return s.reconcile(ctx, rec)
	}
	return nil
}

// Groups reports whether WriteBlocks may be used: not on a cluster (Resend), whose retries must
// resend the very block of the failed attempt.
func (s *Sink) Groups() bool { return !s.Resend }

// WriteBlocks inserts every row of recs in one INSERT, one native block each. The server squashes
// the blocks of one INSERT into one part of events and one of each rollup (up to
// min_insert_block_size_rows, 1,048,576 rows by default, and _bytes, 256 MiB): ClickHouse's cost
// of an insert is largely per part (on 18.16, inserting 2M events in blocks of 50k took 3.7-4.0 s
// of server CPU against 2.2-2.3 s in blocks of 200k, every rollup included), and merges have
// fewer, larger parts to fold. It makes one attempt: after an error any of the rows may have
// landed, so each record must then go through WriteBlock with again.
func (s *Sink) WriteBlocks(ctx context.Context, recs []arrow.RecordBatch) error {
	n := 0
	for _, rec := range recs {
		n += int(rec.NumRows())
	}
	b, err := s.conn.PrepareBatch(ctx, s.query)
	if err != nil {
		return fmt.Errorf("prepare insert of %d rows: %w", n, err)
	}
	defer b.Abort() //nolint:errcheck // no-op after Send
	for i, rec := range recs {
		s.block.fill(rec, s.lastAt)
		if err := s.block.setColumns(b.Columns(), s.Resend); err != nil {
			return fmt.Errorf("insert of %d rows: %w", n, err)
		}
		if i < len(recs)-1 {
			if err := b.Flush(); err != nil {
				return fmt.Errorf("insert %d rows into events (block %d of %d): %w", n, i+1, len(recs), err)
			}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into events: %w", n, err)
	}
	return nil
}

// reconcile hands the event-time range of rec, the whole block of a retried insert (the rows of
// the failed attempt as well as the ones inserted now), to s.Reconcile, if set; its failure comes
// back as a reconcileError.
func (s *Sink) reconcile(ctx context.Context, rec arrow.RecordBatch) error {
	if s.Reconcile == nil || rec.NumRows() == 0 {
		return nil
	}
	ms := rec.Column(schemas.ColTS).(*array.Timestamp).TimestampValues()
	lo, hi := ms[0], ms[0]
	for _, t := range ms {
		lo, hi = min(lo, t), max(hi, t)
	}
	from, to := time.Unix(floorDiv(int64(lo), 1000), 0).UTC(), time.Unix(floorDiv(int64(hi), 1000), 0).UTC()
	if err := s.Reconcile(ctx, from, to); err != nil {
		return &reconcileError{from: from, to: to, err: err}
	}
	return nil
}

// reconcileError is a failed reconcile after a retried insert: the block's rows landed, and its
// rollups may still be short. classify takes it as transient whatever ClickHouse said (the rows
// are not at fault: it must never send them to the dead-letter topic or split the block).
type reconcileError struct {
	from, to time.Time
	err      error
}

func (e *reconcileError) Error() string {
	return fmt.Sprintf("reconcile the rollups of %s to %s after a retried insert (the block is retried, and reconciled again, before its commit): %v",
		e.from.Format(time.RFC3339), e.to.Format(time.RFC3339), e.err)
}

func (e *reconcileError) Unwrap() error { return e.err }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '`')
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}

// notStored returns the runs [lo, hi) of rec's rows whose events are not in events yet (nil
// when every event is stored), for concatRows.
func (s *Sink) notStored(ctx context.Context, rec arrow.RecordBatch) ([][2]int64, error) {
	keys := make([]warehouse.EventKey, rec.NumRows())
	spaces := rec.Column(schemas.ColSpaceID).(*array.String)
	for i := range keys {
		keys[i] = warehouse.EventKey{Space: spaces.Value(i), Second: int64(s.block.secs[i]), ID: s.block.ids[i]}
	}
	stored, err := warehouse.StoredEvents(ctx, s.conn, keys)
	if err != nil {
		return nil, fmt.Errorf("check which of %d rows landed before the retry: %w", len(keys), err)
	}
	landed := make(map[uuid.UUID]struct{}, len(stored))
	for _, id := range stored {
		landed[id] = struct{}{}
	}
	var runs [][2]int64
	for i, k := range keys {
		if _, ok := landed[k.ID]; ok {
			continue
		}
		if j := len(runs) - 1; j >= 0 && runs[j][1] == int64(i) {
			runs[j][1]++
		} else {
			runs = append(runs, [2]int64{int64(i), int64(i) + 1})
		}
	}
	return runs, nil
}
