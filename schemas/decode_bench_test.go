package schemas

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkDecodeAppend measures the consumer's per-event work: decode and
// validate one ~300-byte JSON value, append it to the Arrow builders, and cut
// a record every `batch` events. Target: <= 1 allocation per event.
func BenchmarkDecodeAppend(b *testing.B) {
	for _, batch := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			d := NewDecoder()
			a := NewAppender(memory.DefaultAllocator)
			defer a.Release()
			value := []byte(validJSON)
			var ev Event
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if err := d.Decode(ContentTypeJSON, value, &ev, testNow); err != nil {
					b.Fatal(err)
				}
				a.Append(&ev, 1, 1)
				if a.Len() == batch {
					a.NewRecord().Release()
				}
			}
		})
	}
}

// benchEvents are realistic values: the contract's error example, a join
// as the producer library writes it, and the README's leave.
var benchEvents = []struct{ name, json string }{
	{"error", validJSON},
	{"join", `{"event_id":"0f8e2a61-5d3c-4b1a-9e7f-2c4d6b8a1e30","kind":"join","ts":1723509737123,"space_id":"1YqJDqWLyEMGV","session_id":"7c2d9e41-3b6a-4f8e-b1c5-9a0e2d4f6b83","user_id":"1587234098","client":"android","app_version":"10.53.0","region":"us-east-1","country":"US","join_ms":850,"attempt":3}`},
	{"leave", `{"event_id":"a3b4c5d6-e7f8-4a1b-8c2d-3e4f5a6b7c8d","kind":"leave","ts":1723516057000,
 "space_id":"1YqJDqWLyEMGV","session_id":"7c2d9e41-3b6a-4f8e-b1c5-9a0e2d4f6b83",
 "user_id":"1587234098","reason":"ended"}`},
}

type eventDecoder interface {
	Decode(value []byte, ev *Event, now time.Time) error
}

func benchDecode(b *testing.B, d eventDecoder, value []byte) {
	var ev Event
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := d.Decode(value, &ev, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSON: targets 0 allocations and <= 0.6 us an event on the
// 2-core machine; impl=fastjson is the decoder it replaced, for comparison
// in the same run.
func BenchmarkDecodeJSON(b *testing.B) {
	for _, e := range benchEvents {
		b.Run("event="+e.name+"/impl=scanner", func(b *testing.B) { benchDecode(b, NewJSONDecoder(), []byte(e.json)) })
		b.Run("event="+e.name+"/impl=fastjson", func(b *testing.B) { benchDecode(b, newRefJSONDecoder(), []byte(e.json)) })
	}
}

// BenchmarkDecodeProtobuf: targets 0 allocations and <= 0.5 us an event;
// impl=proto.Unmarshal is the decoder it replaced.
func BenchmarkDecodeProtobuf(b *testing.B) {
	for _, e := range benchEvents {
		var ev Event
		if err := NewJSONDecoder().Decode([]byte(e.json), &ev, testNow); err != nil {
			b.Fatal(err)
		}
		value, err := MarshalProto(&ev)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("event="+e.name+"/impl=protowire", func(b *testing.B) { benchDecode(b, &ProtoDecoder{}, value) })
		b.Run("event="+e.name+"/impl=proto.Unmarshal", func(b *testing.B) { benchDecode(b, &refProtoDecoder{}, value) })
	}
}
