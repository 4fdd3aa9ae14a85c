package schemas

import (
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
