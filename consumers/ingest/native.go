package ingest

import (
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
)

// nativeBlock is a record batch as the native columns ClickHouse receives, in ch-go's types
// (github.com/ClickHouse/ch-go/proto, which clickhouse-go is built on), made over the record's
// Arrow buffers without a per-row copy:
//   - the UUIDs, the milliseconds and the fixed-width columns are the Arrow value buffers
//     themselves, viewed as the ch-go type (same memory layout);
//   - a string column is the Arrow value buffer as it is plus each row's start and end, taken
//     from the Arrow offsets (ClickHouse's String has no offsets buffer: the encoder writes each
//     value with its length as it sends the block);
//   - only what ClickHouse stores differently is computed: ts in seconds, join_ms and
//     http_status with their nulls as -1 and 0, and inserted_at (NewClusterSink).
//
// setColumns puts these columns into the block of a clickhouse-go batch in place of the empty
// ones it made: clickhouse-go's column types take values only through Append, which copies every
// row (it was a fifth of the consumer's CPU in make bench, with the garbage it made). ch-go alone,
// which could send these columns as they are, cannot talk to 18.16 (it leaves out the client info
// 18.16 reads, and the server refuses the query).
//
// The scratch slices keep their capacity from block to block. The columns alias the record: they
// are valid until the record is released or fill is called again.
type nativeBlock struct {
	ids, sessions             proto.ColUUID
	kind, role, reason, phase proto.ColEnum8
	secs                      []proto.DateTime
	ms, joinMS, offset        proto.ColInt64
	str                       [7]proto.ColStr // space_id, user_id, client, app_version, region, country, code
	attempt, status           proto.ColUInt16
	partition                 proto.ColInt32
	insertedAt                []proto.DateTime
}

// fill makes b the columns of rec; insertedAt, unless zero, is every row's inserted_at (a
// cluster sink's query names that column; a single server's leaves it to its DEFAULT, so its
// rows cost nothing there).
func (b *nativeBlock) fill(rec arrow.RecordBatch, insertedAt time.Time) {
	n := int(rec.NumRows())
	b.ids = uuidView(rec.Column(schemas.ColEventID).(*array.FixedSizeBinary))
	b.sessions = uuidView(rec.Column(schemas.ColSessionID).(*array.FixedSizeBinary))
	b.kind = enumView(rec.Column(schemas.ColKind))
	b.role = enumView(rec.Column(schemas.ColRole))
	b.reason = enumView(rec.Column(schemas.ColReason))
	b.phase = enumView(rec.Column(schemas.ColPhase))
	ts := rec.Column(schemas.ColTS).(*array.Timestamp).TimestampValues()
	b.ms = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(ts))), len(ts)) // arrow.Timestamp is an int64
	b.secs = b.secs[:0]
	for _, t := range b.ms {
		b.secs = append(b.secs, proto.DateTime(floorDiv(t, 1000)))
	}
	b.joinMS = b.joinMS[:0]
	jm := rec.Column(schemas.ColJoinMS).(*array.Int64)
	for i, v := range jm.Int64Values() {
		if jm.IsNull(i) {
			v = -1
		}
		b.joinMS = append(b.joinMS, v)
	}
	b.status = b.status[:0]
	hs := rec.Column(schemas.ColHTTPStatus).(*array.Uint16)
	for i, v := range hs.Uint16Values() {
		if hs.IsNull(i) {
			v = 0
		}
		b.status = append(b.status, v)
	}
	for k, c := range [...]int{schemas.ColSpaceID, schemas.ColUserID, schemas.ColClient, schemas.ColAppVersion,
		schemas.ColRegion, schemas.ColCountry, schemas.ColCode} {
		b.str[k] = strView(b.str[k], rec.Column(c).(*array.String))
	}
	b.attempt = rec.Column(schemas.ColAttempt).(*array.Uint16).Uint16Values()
	b.partition = rec.Column(schemas.ColKafkaPartition).(*array.Int32).Int32Values()
	b.offset = rec.Column(schemas.ColKafkaOffset).(*array.Int64).Int64Values()
	b.insertedAt = b.insertedAt[:0]
	if !insertedAt.IsZero() {
		at := proto.DateTime(insertedAt.Unix())
		for range n {
			b.insertedAt = append(b.insertedAt, at)
		}
	}
}

// setColumns sets cols, the columns of a batch of insertColumns (plus inserted_at when
// withInsertedAt), to b's. It fails, naming the column, if clickhouse-go holds a column in
// another type than this code expects (a clickhouse-go upgrade; TestNativeColumnsFitClickHouseGo
// catches it).
func (b *nativeBlock) setColumns(cols []column.Interface, withInsertedAt bool) error {
	want := 20
	if withInsertedAt {
		want++
	}
	if len(cols) != want {
		return fmt.Errorf("the insert has %d columns, want %d", len(cols), want)
	}
	if withInsertedAt && len(b.insertedAt) != len(b.ms) {
		return fmt.Errorf("inserted_at of %d rows for %d rows (fill was given no insert time)", len(b.insertedAt), len(b.ms))
	}
	ok := setCol(cols[0], b.ids) && setCol(cols[1], b.kind) &&
		setDateTime(cols[2], b.secs) && setCol(cols[3], b.ms) &&
		setCol(cols[4], b.str[0]) && setCol(cols[5], b.sessions) && setCol(cols[6], b.str[1]) &&
		setCol(cols[7], b.role) && setCol(cols[8], b.str[2]) && setCol(cols[9], b.str[3]) &&
		setCol(cols[10], b.str[4]) && setCol(cols[11], b.str[5]) && setCol(cols[12], b.joinMS) &&
		setCol(cols[13], b.attempt) && setCol(cols[14], b.reason) && setCol(cols[15], b.phase) &&
		setCol(cols[16], b.str[6]) && setCol(cols[17], b.status) && setCol(cols[18], b.partition) &&
		setCol(cols[19], b.offset) && (!withInsertedAt || setDateTime(cols[20], b.insertedAt))
	if !ok {
		return fmt.Errorf("clickhouse-go's columns %s are not the types spacepulse sets (was clickhouse-go upgraded? see native.go)", columnTypes(cols))
	}
	return nil
}

// nativeField returns a pointer to the ch-go column of c, a clickhouse-go column, when c keeps
// it in a field named col of type T (every column type used here does), else nil.
func nativeField[T any](c column.Interface) *T {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("col")
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() {
		return nil
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr()))
}

// setCol makes v the ch-go column of c.
func setCol[T any](c column.Interface, v T) bool {
	p := nativeField[T](c)
	if p == nil {
		return false
	}
	*p = v
	return true
}

// setDateTime makes secs the values of c, a DateTime column (its time zone is kept).
func setDateTime(c column.Interface, secs []proto.DateTime) bool {
	p := nativeField[proto.ColDateTime](c)
	if p == nil {
		return false
	}
	p.Data = secs
	return true
}

func columnTypes(cols []column.Interface) string {
	s := ""
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %T", c.Name(), c)
	}
	return s
}

// uuidView views a 16-byte fixed-size binary column without nulls (the ids are
// required) as UUIDs, without copying.
func uuidView(a *array.FixedSizeBinary) proto.ColUUID {
	if a.Len() == 0 {
		return nil
	}
	first := a.Value(0) // the rows are contiguous in the value buffer, 16 bytes each
	return unsafe.Slice((*uuid.UUID)(unsafe.Pointer(unsafe.SliceData(first))), a.Len())
}

// enumView views an Int8 column (an enum's codes, schemas.Schema) as ch-go's Enum8 column.
func enumView(a arrow.Array) proto.ColEnum8 {
	v := a.(*array.Int8).Int8Values()
	return unsafe.Slice((*proto.Enum8)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// strView makes c the string column a: a's value bytes as they are, and each row's bounds in
// them (Pos keeps its capacity).
func strView(c proto.ColStr, a *array.String) proto.ColStr {
	offsets := a.ValueOffsets() // len(a)+1 offsets into the value buffer, from a's first row
	c.Buf = a.ValueBytes()      // the bytes from offsets[0] to offsets[len(a)]
	c.Pos = c.Pos[:0]
	if len(offsets) == 0 {
		return c
	}
	base := offsets[0]
	for i := range a.Len() {
		c.Pos = append(c.Pos, proto.Position{Start: int(offsets[i] - base), End: int(offsets[i+1] - base)})
	}
	return c
}
