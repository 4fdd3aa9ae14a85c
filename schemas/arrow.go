package schemas

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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

// Appender appends events to Arrow builders column by column. Appending
// copies the event's bytes, so a decoder may reuse its buffers right after.
// It is not safe for concurrent use. Release it when done.
type Appender struct {
	rb         *array.RecordBuilder
	eventID    *array.FixedSizeBinaryBuilder
	kind       *array.Int8Builder
	ts         *array.TimestampBuilder
	spaceID    *array.StringBuilder
	sessionID  *array.FixedSizeBinaryBuilder
	userID     *array.StringBuilder
	role       *array.Int8Builder
	client     *array.StringBuilder
	appVersion *array.StringBuilder
	region     *array.StringBuilder
	country    *array.StringBuilder
	joinMS     *array.Int64Builder
	attempt    *array.Uint16Builder
	reason     *array.Int8Builder
	phase      *array.Int8Builder
	code       *array.StringBuilder
	httpStatus *array.Uint16Builder
	partition  *array.Int32Builder
	offset     *array.Int64Builder
	n          int
}

// NewAppender returns an Appender allocating from mem.
func NewAppender(mem memory.Allocator) *Appender {
	rb := array.NewRecordBuilder(mem, Schema)
	return &Appender{
		rb:         rb,
		eventID:    rb.Field(ColEventID).(*array.FixedSizeBinaryBuilder),
		kind:       rb.Field(ColKind).(*array.Int8Builder),
		ts:         rb.Field(ColTS).(*array.TimestampBuilder),
		spaceID:    rb.Field(ColSpaceID).(*array.StringBuilder),
		sessionID:  rb.Field(ColSessionID).(*array.FixedSizeBinaryBuilder),
		userID:     rb.Field(ColUserID).(*array.StringBuilder),
		role:       rb.Field(ColRole).(*array.Int8Builder),
		client:     rb.Field(ColClient).(*array.StringBuilder),
		appVersion: rb.Field(ColAppVersion).(*array.StringBuilder),
		region:     rb.Field(ColRegion).(*array.StringBuilder),
		country:    rb.Field(ColCountry).(*array.StringBuilder),
		joinMS:     rb.Field(ColJoinMS).(*array.Int64Builder),
		attempt:    rb.Field(ColAttempt).(*array.Uint16Builder),
		reason:     rb.Field(ColReason).(*array.Int8Builder),
		phase:      rb.Field(ColPhase).(*array.Int8Builder),
		code:       rb.Field(ColCode).(*array.StringBuilder),
		httpStatus: rb.Field(ColHTTPStatus).(*array.Uint16Builder),
		partition:  rb.Field(ColKafkaPartition).(*array.Int32Builder),
		offset:     rb.Field(ColKafkaOffset).(*array.Int64Builder),
	}
}

// Reserve makes room for n more events in every column, and for bytes more bytes of values in
// each string column (0: none reserved).
func (a *Appender) Reserve(n int, bytes [NumStringColumns]int) {
	a.rb.Reserve(n)
	for i, b := range a.strings() {
		b.ReserveData(bytes[i])
	}
}

// NumStringColumns is the number of string columns of Schema.
const NumStringColumns = 7

// strings are the string columns' builders.
func (a *Appender) strings() [NumStringColumns]*array.StringBuilder {
	return [...]*array.StringBuilder{a.spaceID, a.userID, a.client, a.appVersion, a.region, a.country, a.code}
}

// DataLen is how many bytes of values each string column holds so far.
func (a *Appender) DataLen() (n [NumStringColumns]int) {
	for i, b := range a.strings() {
		n[i] = b.DataLen()
	}
	return n
}

// Len is the number of events appended since the last NewRecord.
func (a *Appender) Len() int { return a.n }

// Append adds one valid event that came from the given Kafka partition and
// offset.
func (a *Appender) Append(e *Event, partition int32, offset int64) {
	a.eventID.Append(e.EventID[:])
	a.kind.Append(int8(e.Kind))
	a.ts.Append(arrow.Timestamp(e.TS))
	a.spaceID.Append(e.SpaceID)
	a.sessionID.Append(e.SessionID[:])
	a.userID.Append(e.UserID)
	a.role.Append(int8(e.Role))
	a.client.Append(e.Client)
	a.appVersion.Append(e.AppVersion)
	a.region.Append(e.Region)
	a.country.Append(e.Country)
	if e.JoinMS >= 0 {
		a.joinMS.Append(e.JoinMS)
	} else {
		a.joinMS.AppendNull()
	}
	a.attempt.Append(e.Attempt)
	a.reason.Append(int8(e.Reason))
	a.phase.Append(int8(e.Phase))
	a.code.Append(e.Code)
	if e.HTTPStatus != 0 {
		a.httpStatus.Append(e.HTTPStatus)
	} else {
		a.httpStatus.AppendNull()
	}
	a.partition.Append(partition)
	a.offset.Append(offset)
	a.n++
}

// NewRecord returns the events appended so far as a record batch and starts
// a new one. The caller releases the record.
func (a *Appender) NewRecord() arrow.RecordBatch {
	a.n = 0
	return a.rb.NewRecordBatch()
}

// Release frees the builders.
func (a *Appender) Release() { a.rb.Release() }
