package schemas

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column positions in Schema.
const (
	ColEventID = iota
	ColKind
	ColTS
	ColSpaceID
	ColSessionID
	ColUserID
	ColRole
	ColClient
	ColAppVersion
	ColRegion
	ColCountry
	ColJoinMS
	ColAttempt
	ColReason
	ColPhase
	ColCode
	ColHTTPStatus
	ColKafkaPartition
	ColKafkaOffset
	NumCols
)

// enumMeta documents an int8 enumeration column: its values are the
// ClickHouse Enum8 values of the same column.
func enumMeta(names []string) arrow.Metadata {
	spec := ""
	for i, n := range names {
		if n == "" {
			continue
		}
		if spec != "" {
			spec += ","
		}
		spec += n + "=" + string(rune('0'+i))
	}
	return arrow.NewMetadata([]string{"spacepulse.enum"}, []string{spec})
}

// Schema is the Arrow schema of a batch of events, one column per field of
// the contract plus the Kafka partition and offset each event came from.
// Enumerations (kind, role, reason, phase) are int8 with the values of the
// Kind, Role, Reason and Phase constants (0 = absent), named in each field's
// "spacepulse.enum" metadata. join_ms and http_status are null when absent;
// absent strings are "".
var Schema = arrow.NewSchema([]arrow.Field{
	ColEventID:        {Name: "event_id", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}},
	ColKind:           {Name: "kind", Type: arrow.PrimitiveTypes.Int8, Metadata: enumMeta(kindNames[:])},
	ColTS:             {Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	ColSpaceID:        {Name: "space_id", Type: arrow.BinaryTypes.String},
	ColSessionID:      {Name: "session_id", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}},
	ColUserID:         {Name: "user_id", Type: arrow.BinaryTypes.String},
	ColRole:           {Name: "role", Type: arrow.PrimitiveTypes.Int8, Metadata: enumMeta(roleNames[:])},
	ColClient:         {Name: "client", Type: arrow.BinaryTypes.String},
	ColAppVersion:     {Name: "app_version", Type: arrow.BinaryTypes.String},
	ColRegion:         {Name: "region", Type: arrow.BinaryTypes.String},
	ColCountry:        {Name: "country", Type: arrow.BinaryTypes.String},
	ColJoinMS:         {Name: "join_ms", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	ColAttempt:        {Name: "attempt", Type: arrow.PrimitiveTypes.Uint16},
	ColReason:         {Name: "reason", Type: arrow.PrimitiveTypes.Int8, Metadata: enumMeta(reasonNames[:])},
	ColPhase:          {Name: "phase", Type: arrow.PrimitiveTypes.Int8, Metadata: enumMeta(phaseNames[:])},
	ColCode:           {Name: "code", Type: arrow.BinaryTypes.String},
	ColHTTPStatus:     {Name: "http_status", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	ColKafkaPartition: {Name: "kafka_partition", Type: arrow.PrimitiveTypes.Int32},
	ColKafkaOffset:    {Name: "kafka_offset", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// Appender builds record batches of events. It writes each event's values straight into the
// Arrow buffers of the record being filled, allocated from its memory.Allocator, and NewRecord
// hands those buffers over as the record's arrays: no builder in between. (arrow-go's builders
// check capacity and set a validity bit per value, column by column: 250 ns an event in
// BenchmarkDecodeAppend, against ~60 ns here with one capacity check per event; see
// TestAppenderMatchesBuilders for the equality of the two.) Only join_ms and http_status have a
// validity bitmap; the other columns have no nulls.
//
// Appending copies the event's bytes, so a decoder may reuse its buffers right after. It is not
// safe for concurrent use. Release it when done.
type Appender struct {
	mem  memory.Allocator
	n    int // rows appended
	rows int // rows the fixed-width buffers hold

	eventID, sessionID           fixed[[16]byte]
	kind, role, reason, phase    fixed[int8]
	ts, joinMS, offset           fixed[int64]
	attempt, httpStatus          fixed[uint16]
	partition                    fixed[int32]
	joinMSValid, httpStatusValid fixed[byte] // validity bitmaps, one bit a row
	str                          [NumStringColumns]strCol
}

// NumStringColumns is the number of string columns of Schema.
const NumStringColumns = 7

// stringCols are the positions in Schema of the string columns, in the order of Appender.str.
var stringCols = [NumStringColumns]int{ColSpaceID, ColUserID, ColClient, ColAppVersion, ColRegion, ColCountry, ColCode}

// NewAppender returns an Appender allocating from mem.
func NewAppender(mem memory.Allocator) *Appender {
	a := &Appender{mem: mem}
	a.start(1024)
	return a
}

// fixed is a buffer of fixed-width values and a view of it as a slice of T.
type fixed[T any] struct {
	buf *memory.Buffer
	v   []T
}

// alloc gives f a new buffer from mem for n values.
func (f *fixed[T]) alloc(mem memory.Allocator, n int) {
	f.buf = memory.NewResizableBuffer(mem)
	f.resize(n)
}

// resize makes f hold n values, keeping the first ones (the buffer grows, never shrinks).
func (f *fixed[T]) resize(n int) {
	var zero T
	f.buf.ResizeNoShrink(n * int(unsafe.Sizeof(zero)))
	b := f.buf.Bytes()
	f.v = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// done sets the buffer's length to its first n values and gives it up to the caller.
func (f *fixed[T]) done(n int) *memory.Buffer {
	var zero T
	f.buf.ResizeNoShrink(n * int(unsafe.Sizeof(zero)))
	b := f.buf
	f.buf, f.v = nil, nil
	return b
}

func (f *fixed[T]) release() {
	if f.buf != nil {
		f.buf.Release()
		f.buf, f.v = nil, nil
	}
}

// strCol is a string column being filled: its offsets (one more than the rows) and its bytes.
type strCol struct {
	offsets fixed[int32]
	data    *memory.Buffer
	bytes   []byte // data's bytes, len = its capacity
	len     int    // bytes used
}

func (c *strCol) alloc(mem memory.Allocator, rows, bytes int) {
	c.offsets.alloc(mem, rows+1)
	c.offsets.v[0] = 0
	c.data = memory.NewResizableBuffer(mem)
	c.len = 0
	c.reserve(bytes)
}

// reserve makes room for n bytes in all.
func (c *strCol) reserve(n int) {
	if n <= len(c.bytes) && c.bytes != nil {
		return
	}
	c.data.ResizeNoShrink(max(n, 64))
	c.bytes = c.data.Bytes()
}

// append adds s as row i.
func (c *strCol) append(i int, s string) {
	end := c.len + len(s)
	if end > len(c.bytes) {
		if end > math.MaxInt32 {
			panic("schemas: a string column of a record batch over 2 GiB")
		}
		c.reserve(max(end, 2*len(c.bytes)))
	}
	copy(c.bytes[c.len:end], s)
	c.len = end
	c.offsets.v[i+1] = int32(end)
}

func (c *strCol) release() {
	c.offsets.release()
	if c.data != nil {
		c.data.Release()
		c.data, c.bytes = nil, nil
	}
}

// buffer is a fixed-width buffer of the record being filled.
type buffer interface {
	alloc(mem memory.Allocator, n int)
	resize(n int)
	release()
}

// values are the buffers of one value a row; bitmaps those of one bit a row.
func (a *Appender) values() []buffer {
	return []buffer{&a.eventID, &a.sessionID, &a.kind, &a.role, &a.reason, &a.phase, &a.ts, &a.joinMS,
		&a.offset, &a.attempt, &a.httpStatus, &a.partition}
}

func (a *Appender) bitmaps() []buffer { return []buffer{&a.joinMSValid, &a.httpStatusValid} }

// start allocates the buffers of a new record for rows rows, each string column with
// room for bytes[i] bytes.
func (a *Appender) start(rows int, bytes ...int) {
	a.n, a.rows = 0, rows
	for _, b := range a.values() {
		b.alloc(a.mem, rows)
	}
	for _, b := range a.bitmaps() {
		b.alloc(a.mem, bitmapBytes(rows))
	}
	for i := range a.str {
		b := 0
		if i < len(bytes) {
			b = bytes[i]
		}
		a.str[i].alloc(a.mem, rows, b)
	}
}

func bitmapBytes(rows int) int { return (rows + 7) / 8 }

// grow makes room for rows rows in every fixed-width buffer.
func (a *Appender) grow(rows int) {
	a.rows = rows
	for _, b := range a.values() {
		b.resize(rows)
	}
	for _, b := range a.bitmaps() {
		b.resize(bitmapBytes(rows))
	}
	for i := range a.str {
		a.str[i].offsets.resize(rows + 1)
	}
}

// dataLen is how many bytes of values each string column holds so far.
func (a *Appender) dataLen() (n [NumStringColumns]int) {
	for i := range a.str {
		n[i] = a.str[i].len
	}
	return n
}

// Len is the number of events appended since the last NewRecord.
func (a *Appender) Len() int { return a.n }

// setBit sets (or clears) bit i of bm.
func setBit(bm []byte, i int, on bool) {
	if on {
		bm[i>>3] |= 1 << (i & 7)
	} else {
		bm[i>>3] &^= 1 << (i & 7)
	}
}

// Append adds one valid event that came from the given Kafka partition and
// offset.
func (a *Appender) Append(e *Event, partition int32, offset int64) {
	i := a.n
	if i == a.rows {
		a.grow(2 * a.rows)
	}
	a.eventID.v[i] = e.EventID
	a.kind.v[i] = int8(e.Kind)
	a.ts.v[i] = e.TS
	a.sessionID.v[i] = e.SessionID
	a.role.v[i] = int8(e.Role)
	a.joinMS.v[i] = max(e.JoinMS, 0)
	setBit(a.joinMSValid.v, i, e.JoinMS >= 0)
	a.attempt.v[i] = e.Attempt
	a.reason.v[i] = int8(e.Reason)
	a.phase.v[i] = int8(e.Phase)
	a.httpStatus.v[i] = e.HTTPStatus
	setBit(a.httpStatusValid.v, i, e.HTTPStatus != 0)
	a.partition.v[i] = partition
	a.offset.v[i] = offset
	a.str[0].append(i, e.SpaceID)
	a.str[1].append(i, e.UserID)
	a.str[2].append(i, e.Client)
	a.str[3].append(i, e.AppVersion)
	a.str[4].append(i, e.Region)
	a.str[5].append(i, e.Country)
	a.str[6].append(i, e.Code)
	a.n++
}

// NewRecord returns the events appended so far as a record batch and starts
// a new one, sized like this one (so that a stream of batches of the same size never grows a
// buffer by doubling). The caller releases the record.
func (a *Appender) NewRecord() arrow.RecordBatch {
	n, lens := a.n, a.dataLen()
	cols := make([]arrow.Array, NumCols)
	fixedCol := func(c int, buf *memory.Buffer) {
		cols[c] = makeArray(Schema.Field(c).Type, n, 0, nil, buf)
	}
	nullable := func(c int, valid []byte, bm, buf *memory.Buffer) {
		nulls := n - bitutil.CountSetBits(valid, 0, n)
		if nulls == 0 {
			bm.Release()
			bm = nil
		}
		cols[c] = makeArray(Schema.Field(c).Type, n, nulls, bm, buf)
	}
	fixedCol(ColEventID, a.eventID.done(n))
	fixedCol(ColSessionID, a.sessionID.done(n))
	fixedCol(ColKind, a.kind.done(n))
	fixedCol(ColRole, a.role.done(n))
	fixedCol(ColReason, a.reason.done(n))
	fixedCol(ColPhase, a.phase.done(n))
	fixedCol(ColTS, a.ts.done(n))
	fixedCol(ColKafkaOffset, a.offset.done(n))
	fixedCol(ColAttempt, a.attempt.done(n))
	fixedCol(ColKafkaPartition, a.partition.done(n))
	jv, hv := a.joinMSValid.v, a.httpStatusValid.v
	nullable(ColJoinMS, jv, a.joinMSValid.done(bitmapBytes(n)), a.joinMS.done(n))
	nullable(ColHTTPStatus, hv, a.httpStatusValid.done(bitmapBytes(n)), a.httpStatus.done(n))
	for i, c := range stringCols {
		s := &a.str[i]
		offsets := s.offsets.done(n + 1)
		s.data.ResizeNoShrink(s.len)
		cols[c] = makeArray(Schema.Field(c).Type, n, 0, nil, offsets, s.data)
		s.data, s.bytes = nil, nil
	}
	rec := array.NewRecordBatch(Schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	for i := range lens {
		lens[i] += lens[i] / 8 // room for longer values than this record's
	}
	a.start(max(n, 1024), lens[:]...)
	return rec
}

// makeArray is an array of n values of type t over buffers, which it takes over (releases its
// reference to them); validity may be nil (no nulls).
func makeArray(t arrow.DataType, n, nulls int, validity *memory.Buffer, buffers ...*memory.Buffer) arrow.Array {
	data := array.NewData(t, n, append([]*memory.Buffer{validity}, buffers...), nil, nulls, 0)
	for _, b := range buffers {
		b.Release()
	}
	if validity != nil {
		validity.Release()
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

// Release frees the buffers of the record being filled.
func (a *Appender) Release() {
	for _, b := range append(a.values(), a.bitmaps()...) {
		b.release()
	}
	for i := range a.str {
		a.str[i].release()
	}
	a.n, a.rows = 0, 0
}
