package schemas

import (
	"fmt"
	"testing"

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

func BenchmarkDecodeJSON(b *testing.B) {
	d := NewJSONDecoder()
	value := []byte(validJSON)
	var ev Event
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := d.Decode(value, &ev, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProtobuf(b *testing.B) {
	jd := NewJSONDecoder()
	var ev Event
	if err := jd.Decode([]byte(validJSON), &ev, testNow); err != nil {
		b.Fatal(err)
	}
	value, _ := MarshalProto(&ev)
	var d ProtoDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := d.Decode(value, &ev, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
