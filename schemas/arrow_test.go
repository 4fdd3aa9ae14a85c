package schemas

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestAppenderColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	d := NewJSONDecoder()
	var ev Event
	if err := d.Decode([]byte(validJSON), &ev, testNow); err != nil {
		t.Fatal(err)
	}
	a := NewAppender(mem)
	defer a.Release()
	a.Append(&ev, 3, 77)
	ev.Kind, ev.Phase, ev.Code, ev.HTTPStatus, ev.JoinMS = KindJoin, PhaseNone, "", 0, 420
	a.Append(&ev, 4, 78)
	if a.Len() != 2 {
		t.Fatalf("Len = %d, want 2", a.Len())
	}
	rec := a.NewRecord()
	defer rec.Release()
	if !rec.Schema().Equal(Schema) || rec.NumRows() != 2 || a.Len() != 0 {
		t.Fatalf("record: %d rows, schema %v", rec.NumRows(), rec.Schema())
	}
	id := rec.Column(ColEventID).(*array.FixedSizeBinary).Value(0)
	if string(id) != string(ev.EventID[:]) {
		t.Fatalf("event_id column %x, want %x", id, ev.EventID[:])
	}
	if got := rec.Column(ColTS).(*array.Timestamp).Value(1); got != arrow.Timestamp(1723509737123) {
		t.Fatalf("ts = %d", got)
	}
	kinds := rec.Column(ColKind).(*array.Int8).Int8Values()
	if kinds[0] != int8(KindError) || kinds[1] != int8(KindJoin) {
		t.Fatalf("kinds = %v", kinds)
	}
	js := rec.Column(ColJoinMS).(*array.Int64)
	if !js.IsNull(0) || js.Value(1) != 420 {
		t.Fatalf("join_ms null=%v value=%d", js.IsNull(0), js.Value(1))
	}
	hs := rec.Column(ColHTTPStatus).(*array.Uint16)
	if hs.Value(0) != 503 || !hs.IsNull(1) {
		t.Fatalf("http_status %d null=%v", hs.Value(0), hs.IsNull(1))
	}
	if s := rec.Column(ColSpaceID).(*array.String).Value(1); s != "1YqJDqWLyEMGV" {
		t.Fatalf("space_id %q", s)
	}
	if p := rec.Column(ColKafkaOffset).(*array.Int64).Value(1); p != 78 {
		t.Fatalf("kafka_offset %d", p)
	}
}

// builderRecord is the record of evs made with arrow-go's builders, column by column: the
// reference the Appender's own buffers must equal.
func builderRecord(mem memory.Allocator, evs []Event) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, Schema)
	defer rb.Release()
	for i := range evs {
		e := &evs[i]
		rb.Field(ColEventID).(*array.FixedSizeBinaryBuilder).Append(e.EventID[:])
		rb.Field(ColKind).(*array.Int8Builder).Append(int8(e.Kind))
		rb.Field(ColTS).(*array.TimestampBuilder).Append(arrow.Timestamp(e.TS))
		rb.Field(ColSpaceID).(*array.StringBuilder).Append(e.SpaceID)
		rb.Field(ColSessionID).(*array.FixedSizeBinaryBuilder).Append(e.SessionID[:])
		rb.Field(ColUserID).(*array.StringBuilder).Append(e.UserID)
		rb.Field(ColRole).(*array.Int8Builder).Append(int8(e.Role))
		rb.Field(ColClient).(*array.StringBuilder).Append(e.Client)
		rb.Field(ColAppVersion).(*array.StringBuilder).Append(e.AppVersion)
		rb.Field(ColRegion).(*array.StringBuilder).Append(e.Region)
		rb.Field(ColCountry).(*array.StringBuilder).Append(e.Country)
		if e.JoinMS >= 0 {
			rb.Field(ColJoinMS).(*array.Int64Builder).Append(e.JoinMS)
		} else {
			rb.Field(ColJoinMS).(*array.Int64Builder).AppendNull()
		}
		rb.Field(ColAttempt).(*array.Uint16Builder).Append(e.Attempt)
		rb.Field(ColReason).(*array.Int8Builder).Append(int8(e.Reason))
		rb.Field(ColPhase).(*array.Int8Builder).Append(int8(e.Phase))
		rb.Field(ColCode).(*array.StringBuilder).Append(e.Code)
		if e.HTTPStatus != 0 {
			rb.Field(ColHTTPStatus).(*array.Uint16Builder).Append(e.HTTPStatus)
		} else {
			rb.Field(ColHTTPStatus).(*array.Uint16Builder).AppendNull()
		}
		rb.Field(ColKafkaPartition).(*array.Int32Builder).Append(int32(i % 7))
		rb.Field(ColKafkaOffset).(*array.Int64Builder).Append(int64(i))
	}
	return rb.NewRecordBatch()
}

// randomEvents are n events with every column varied: empty, short and long strings (up to the
// contract's limits), null and non-null join_ms and http_status, every enum value.
func randomEvents(n int, seed uint64) []Event {
	rnd := func() uint64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
	str := func(max int) string {
		b := make([]byte, int(rnd()%uint64(max+1)))
		for i := range b {
			b[i] = byte('a' + rnd()%26)
		}
		return string(b)
	}
	evs := make([]Event, n)
	for i := range evs {
		e := &evs[i]
		for j := range e.EventID {
			e.EventID[j], e.SessionID[j] = byte(rnd()), byte(rnd())
		}
		e.Kind, e.Role = Kind(1+rnd()%3), Role(1+rnd()%4)
		e.Reason, e.Phase = Reason(rnd()%6), Phase(rnd()%3)
		e.TS = int64(1723509737123 + rnd()%100_000_000)
		e.SpaceID, e.UserID, e.Client, e.AppVersion = str(64), str(128), str(32), str(32)
		e.Region, e.Country, e.Code = str(32), str(2), str(64)
		e.JoinMS, e.HTTPStatus, e.Attempt = -1, 0, uint16(rnd()%5)
		if rnd()%3 == 0 {
			e.JoinMS = int64(rnd() % 5000)
		}
		if rnd()%4 == 0 {
			e.HTTPStatus = uint16(100 + rnd()%500)
		}
	}
	return evs
}

// TestAppenderMatchesBuilders: the records the Appender makes from its own buffers equal, value
// for value and null for null, the records arrow-go's builders make of the same events, and are
// valid Arrow (ValidateFull), for record sizes below, at and far above its first buffers'
// (growth while filling) and in a row (a new record sized like the last). Everything it
// allocated is freed once the records and the Appender are released.
func TestAppenderMatchesBuilders(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := NewAppender(mem)
	defer a.Release()
	for k, n := range []int{1, 1023, 1024, 5000, 70_000, 3, 0, 2500} {
		evs := randomEvents(n, uint64(k+1))
		for i := range evs {
			a.Append(&evs[i], int32(i%7), int64(i))
		}
		got := a.NewRecord()
		want := builderRecord(mem, evs)
		if err := validateRecord(got); err != nil {
			t.Fatalf("record of %d events: %v", n, err)
		}
		if !array.RecordEqual(got, want) {
			for c := range int(want.NumCols()) {
				if !array.Equal(got.Column(c), want.Column(c)) {
					t.Errorf("record of %d events: column %s differs from the builders'", n, Schema.Field(c).Name)
				}
			}
			t.FailNow()
		}
		got.Release()
		want.Release()
	}
}

func validateRecord(rec arrow.RecordBatch) error {
	for c, col := range rec.Columns() {
		if v, ok := col.(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				return fmt.Errorf("column %s: %w", Schema.Field(c).Name, err)
			}
		}
		if col.Len() != int(rec.NumRows()) {
			return fmt.Errorf("column %s: %d rows, the record %d", Schema.Field(c).Name, col.Len(), rec.NumRows())
		}
	}
	return nil
}
