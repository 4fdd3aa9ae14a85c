package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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
// native columnar block each. Its scratch columns keep their capacity from
// batch to batch. A Sink is used by one goroutine at a time.
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
	at     []time.Time       // scratch: inserted_at of every row

	// Reconcile, when not nil, receives the event-time range of a block inserted after a failed
	// attempt: a server that died during that attempt may have kept its events but not all of
	// its rollup rows (see warehouse.Reconcile).
	Reconcile func(ctx context.Context, from, to time.Time)

	ids, sessions []uuid.UUID // views of the record's buffers (see columns)
	ms            []int64     // a view too
	secs, joinMS  []int64
	status        []uint16
	str           [7][]string
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
	n := int(rec.NumRows())
	cols := s.columns(rec)
	resend := s.Resend && again && rec == s.last
	if s.Resend && !resend {
		s.last, s.lastAt = rec, time.Now().Truncate(time.Second)
	}
	if again && !resend {
		keep, err := s.notStored(ctx, rec)
		if err != nil {
			return err
		}
		if n = countTrue(keep); n == 0 {
			// Every row landed in the failed attempt, but its view parts may not have:
			// the rollups of the whole block are checked all the same.
			s.reconcile(ctx)
			return nil
		}
		for i := range cols {
			cols[i] = filterColumn(cols[i], keep)
		}
	}
	b, err := s.conn.PrepareBatch(ctx, s.query)
	if err != nil {
		return fmt.Errorf("prepare insert of %d rows: %w", n, err)
	}
	defer b.Abort() //nolint:errcheck // no-op after Send
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("append column %d of %d rows: %w", i, n, err)
		}
	}
	if s.Resend {
		s.at = s.at[:0]
		for range n {
			s.at = append(s.at, s.lastAt)
		}
		if err := b.Column(len(cols)).Append(s.at); err != nil {
			return fmt.Errorf("append inserted_at of %d rows: %w", n, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into events: %w", n, err)
	}
	if again {
		s.reconcile(ctx)
	}
	return nil
}

// reconcile hands the event-time range of the whole block last converted by columns (the rows
// of the failed attempt as well as the ones inserted now) to s.Reconcile, if set.
func (s *Sink) reconcile(ctx context.Context) {
	if s.Reconcile == nil || len(s.secs) == 0 {
		return
	}
	lo, hi := s.secs[0], s.secs[0]
	for _, sec := range s.secs {
		lo, hi = min(lo, sec), max(hi, sec)
	}
	s.Reconcile(ctx, time.Unix(lo, 0), time.Unix(hi, 0))
}

// columns converts rec into the slices clickhouse-go appends, in the order
// of insertColumns. The record's buffers are passed as they are, viewed as the
// Go types clickhouse-go takes (UUIDs, milliseconds, the fixed-width columns;
// strings as views of the value buffer); only the columns ClickHouse stores
// differently are computed, into scratch slices that keep their capacity: ts
// (seconds), and join_ms and http_status, whose nulls it stores as -1 and 0.
// (clickhouse-go then copies every column into its own native column; ch-go,
// which could encode from these buffers directly, cannot talk to 18.16: it
// leaves out the client info 18.16 reads, and the server refuses the query.)
// The result aliases rec and the scratch: it is valid until the next call.
func (s *Sink) columns(rec arrow.RecordBatch) [20]any {
	n := int(rec.NumRows())
	s.ids = uuidView(rec.Column(schemas.ColEventID).(*array.FixedSizeBinary))
	s.sessions = uuidView(rec.Column(schemas.ColSessionID).(*array.FixedSizeBinary))
	ts := rec.Column(schemas.ColTS).(*array.Timestamp).TimestampValues()
	s.ms = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(ts))), len(ts)) // arrow.Timestamp is an int64
	s.secs = s.secs[:0]
	for _, t := range s.ms {
		s.secs = append(s.secs, floorDiv(t, 1000))
	}
	s.joinMS = s.joinMS[:0]
	jm := rec.Column(schemas.ColJoinMS).(*array.Int64)
	for i := range n {
		v := int64(-1)
		if jm.IsValid(i) {
			v = jm.Value(i)
		}
		s.joinMS = append(s.joinMS, v)
	}
	s.status = s.status[:0]
	hs := rec.Column(schemas.ColHTTPStatus).(*array.Uint16)
	for i := range n {
		var v uint16
		if hs.IsValid(i) {
			v = hs.Value(i)
		}
		s.status = append(s.status, v)
	}
	for k, c := range [...]int{schemas.ColSpaceID, schemas.ColUserID, schemas.ColClient, schemas.ColAppVersion,
		schemas.ColRegion, schemas.ColCountry, schemas.ColCode} {
		s.str[k] = stringViews(s.str[k], rec.Column(c).(*array.String))
	}
	return [...]any{
		s.ids,
		rec.Column(schemas.ColKind).(*array.Int8).Int8Values(),
		s.secs,
		s.ms,
		s.str[0], // space_id
		s.sessions,
		s.str[1], // user_id
		rec.Column(schemas.ColRole).(*array.Int8).Int8Values(),
		s.str[2], s.str[3], s.str[4], s.str[5], // client, app_version, region, country
		s.joinMS,
		rec.Column(schemas.ColAttempt).(*array.Uint16).Uint16Values(),
		rec.Column(schemas.ColReason).(*array.Int8).Int8Values(),
		rec.Column(schemas.ColPhase).(*array.Int8).Int8Values(),
		s.str[6], // code
		s.status,
		rec.Column(schemas.ColKafkaPartition).(*array.Int32).Int32Values(),
		rec.Column(schemas.ColKafkaOffset).(*array.Int64).Int64Values(),
	}
}

// uuidView views a 16-byte fixed-size binary column without nulls (the ids are
// required) as UUIDs, without copying.
func uuidView(a *array.FixedSizeBinary) []uuid.UUID {
	if a.Len() == 0 {
		return nil
	}
	first := a.Value(0) // the rows are contiguous in the value buffer, 16 bytes each
	return unsafe.Slice((*uuid.UUID)(unsafe.Pointer(unsafe.SliceData(first))), a.Len())
}

// stringViews views a string column as []string without copying the bytes.
func stringViews(dst []string, a *array.String) []string {
	dst = dst[:0]
	for i := range a.Len() {
		dst = append(dst, a.Value(i))
	}
	return dst
}

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

// notStored returns, for each row of rec, whether its event is not in events yet.
func (s *Sink) notStored(ctx context.Context, rec arrow.RecordBatch) ([]bool, error) {
	keys := make([]warehouse.EventKey, rec.NumRows())
	spaces := rec.Column(schemas.ColSpaceID).(*array.String)
	for i := range keys {
		keys[i] = warehouse.EventKey{Space: spaces.Value(i), Second: s.secs[i], ID: s.ids[i]}
	}
	stored, err := warehouse.StoredEvents(ctx, s.conn, keys)
	if err != nil {
		return nil, fmt.Errorf("check which of %d rows landed before the retry: %w", len(keys), err)
	}
	landed := make(map[uuid.UUID]struct{}, len(stored))
	for _, id := range stored {
		landed[id] = struct{}{}
	}
	keep := make([]bool, len(keys))
	for i, k := range keys {
		_, ok := landed[k.ID]
		keep[i] = !ok
	}
	return keep, nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// filterColumn returns a new slice of the rows of col (one of the slice types columns returns)
// whose keep is true. It never writes into col, which may be an Arrow buffer.
func filterColumn(col any, keep []bool) any {
	switch c := col.(type) {
	case []uuid.UUID:
		return filterSlice(c, keep)
	case []int8:
		return filterSlice(c, keep)
	case []int32:
		return filterSlice(c, keep)
	case []int64:
		return filterSlice(c, keep)
	case []uint16:
		return filterSlice(c, keep)
	case []string:
		return filterSlice(c, keep)
	}
	panic(fmt.Sprintf("filterColumn: column of type %T", col))
}

func filterSlice[T any](c []T, keep []bool) []T {
	out := make([]T, 0, len(c))
	for i, v := range c {
		if keep[i] {
			out = append(out, v)
		}
	}
	return out
}
