package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// eventsTypes are the ClickHouse types of insertColumns plus inserted_at, as in
// sql/migrations/0001_events.sql.
var eventsTypes = []string{
	"UUID", "Enum8('join' = 1, 'leave' = 2, 'error' = 3)", "DateTime('UTC')", "Int64", "String", "UUID",
	"String", "Enum8('listener' = 1, 'speaker' = 2, 'host' = 3, 'cohost' = 4)", "String", "String",
	"String", "String", "Int64", "UInt16",
	"Enum8('' = 0, 'user' = 1, 'ended' = 2, 'kicked' = 3, 'network' = 4, 'error' = 5)",
	"Enum8('' = 0, 'join' = 1, 'session' = 2)", "String", "UInt16", "Int32", "Int64", "DateTime('UTC')",
}

// newColumns makes the empty clickhouse-go columns a batch of the events insert starts with.
func newColumns(t testing.TB, insertedAt bool) []column.Interface {
	t.Helper()
	names := strings.Split(insertColumns+", inserted_at", ", ")
	n := len(names)
	if !insertedAt {
		n--
	}
	cols := make([]column.Interface, n)
	for i := range cols {
		c, err := column.Type(eventsTypes[i]).Column(names[i], &column.ServerContext{Timezone: time.UTC})
		if err != nil {
			t.Fatalf("column %s %s: %v", names[i], eventsTypes[i], err)
		}
		cols[i] = c
	}
	return cols
}

// synthRecord is a record of n synthetic events, with nulls in join_ms and http_status (leaves
// and joins have no status, errors and leaves no latency).
func synthRecord(t testing.TB, n int) arrow.RecordBatch {
	t.Helper()
	_, recs := loadRecords(t, synth.Load{Events: n, Start: time.Now().Add(-time.Hour)}, n, 8)
	return recs[0]
}

// loadRecords generates l's events into records of per rows (the last may have fewer), event i
// from partition i % partitions at offset i, and returns the events too. The test releases the
// records when it ends.
func loadRecords(t testing.TB, l synth.Load, per, partitions int) ([]schemas.Event, []arrow.RecordBatch) {
	t.Helper()
	app := schemas.NewAppender(memory.DefaultAllocator)
	defer app.Release()
	var evs []schemas.Event
	var recs []arrow.RecordBatch
	var ev schemas.Event
	for g, i := synth.NewGenerator(l), 0; g.Next(&ev); i++ {
		evs = append(evs, ev.Clone())
		app.Append(&ev, int32(i%partitions), int64(i))
		if app.Len() == per {
			recs = append(recs, app.NewRecord())
		}
	}
	if app.Len() > 0 {
		recs = append(recs, app.NewRecord())
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return evs, recs
}

// appendSlices is what clickhouse-go's own Append path gets for rec: Go slices of the values.
func appendSlices(rec arrow.RecordBatch, at time.Time) []any {
	n := int(rec.NumRows())
	strs := func(c int) []string {
		a := rec.Column(c).(*array.String)
		out := make([]string, n)
		for i := range out {
			out[i] = a.Value(i)
		}
		return out
	}
	uuids := func(c int) []uuid.UUID {
		a := rec.Column(c).(*array.FixedSizeBinary)
		out := make([]uuid.UUID, n)
		for i := range out {
			copy(out[i][:], a.Value(i))
		}
		return out
	}
	secs, jms, status, ats := make([]int64, n), make([]int64, n), make([]uint16, n), make([]time.Time, n)
	ts := rec.Column(schemas.ColTS).(*array.Timestamp)
	jm := rec.Column(schemas.ColJoinMS).(*array.Int64)
	hs := rec.Column(schemas.ColHTTPStatus).(*array.Uint16)
	for i := range n {
		secs[i] = floorDiv(int64(ts.Value(i)), 1000)
		jms[i], status[i], ats[i] = -1, 0, at
		if jm.IsValid(i) {
			jms[i] = jm.Value(i)
		}
		if hs.IsValid(i) {
			status[i] = hs.Value(i)
		}
	}
	ms := make([]int64, n)
	for i := range ms {
		ms[i] = int64(ts.Value(i))
	}
	i8 := func(c int) []int8 { return append([]int8(nil), rec.Column(c).(*array.Int8).Int8Values()...) }
	return []any{
		uuids(schemas.ColEventID), i8(schemas.ColKind), secs, ms, strs(schemas.ColSpaceID), uuids(schemas.ColSessionID),
		strs(schemas.ColUserID), i8(schemas.ColRole), strs(schemas.ColClient), strs(schemas.ColAppVersion),
		strs(schemas.ColRegion), strs(schemas.ColCountry), jms,
		append([]uint16(nil), rec.Column(schemas.ColAttempt).(*array.Uint16).Uint16Values()...),
		i8(schemas.ColReason), i8(schemas.ColPhase), strs(schemas.ColCode), status,
		append([]int32(nil), rec.Column(schemas.ColKafkaPartition).(*array.Int32).Int32Values()...),
		append([]int64(nil), rec.Column(schemas.ColKafkaOffset).(*array.Int64).Int64Values()...),
		ats,
	}
}

// TestNativeColumnsFitClickHouseGo checks that the columns made over the Arrow buffers
// (nativeBlock) go on the wire byte for byte as clickhouse-go's own columns do when given the same
// values through Append, for every column of the events insert, on a whole record and on a slice
// of one (the halves of a refused block are slices). It also fails when a clickhouse-go upgrade
// changes how a column type keeps its values, which setColumns relies on.
func TestNativeColumnsFitClickHouseGo(t *testing.T) {
	rec := synthRecord(t, 5000)
	defer rec.Release()
	sliced := rec.NewSlice(17, 4321)
	defer sliced.Release()
	at := time.Date(2024, 8, 12, 23, 59, 7, 0, time.UTC)
	for _, r := range []arrow.RecordBatch{rec, sliced} {
		var b nativeBlock
		b.fill(r, at)
		native := newColumns(t, true)
		if err := b.setColumns(native, true); err != nil {
			t.Fatal(err)
		}
		want := newColumns(t, true)
		for i, v := range appendSlices(r, at) {
			if _, err := want[i].Append(v); err != nil {
				t.Fatalf("append %s: %v", want[i].Name(), err)
			}
		}
		for i := range native {
			if native[i].Rows() != int(r.NumRows()) {
				t.Fatalf("%s: %d rows, want %d", native[i].Name(), native[i].Rows(), r.NumRows())
			}
			var got, exp chproto.Buffer
			native[i].Encode(&got)
			want[i].Encode(&exp)
			if !bytes.Equal(got.Buf, exp.Buf) {
				t.Errorf("%s (%d rows from offset %d): %d bytes on the wire differ from clickhouse-go's %d",
					native[i].Name(), r.NumRows(), r.Column(0).Data().Offset(), len(got.Buf), len(exp.Buf))
			}
		}
	}
	// A column of a type setColumns does not expect is refused, naming the columns.
	var b nativeBlock
	b.fill(rec, at)
	cols := newColumns(t, false)
	cols[4], _ = column.Type("FixedString(8)").Column("space_id", &column.ServerContext{Timezone: time.UTC})
	if err := b.setColumns(cols, false); err == nil || !strings.Contains(err.Error(), "space_id") {
		t.Fatalf("a FixedString space_id column: %v, want an error naming it", err)
	}
}

// BenchmarkSinkColumns measures the Arrow -> native column conversion of one block and setting
// it into the batch's columns (the server's share is measured by make bench).
func BenchmarkSinkColumns(b *testing.B) {
	for _, rows := range []int{10_000, 50_000} {
		b.Run(map[int]string{10_000: "rows=10000", 50_000: "rows=50000"}[rows], func(b *testing.B) {
			rec := synthRecord(b, rows)
			defer rec.Release()
			s := NewSink(nil, "bench")
			cols := newColumns(b, false)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				s.block.fill(rec, time.Time{})
				if err := s.block.setColumns(cols, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
