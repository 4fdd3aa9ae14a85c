package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// BenchmarkSinkColumns measures the Arrow -> clickhouse-go column conversion
// of one block (the server's share is measured by make bench).
func BenchmarkSinkColumns(b *testing.B) {
	for _, rows := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			app := schemas.NewAppender(memory.DefaultAllocator)
			defer app.Release()
			g := synth.NewGenerator(synth.Load{Events: rows, Start: time.Now().Add(-time.Hour)})
			var ev schemas.Event
			for g.Next(&ev) {
				app.Append(&ev, 1, 1)
			}
			rec := app.NewRecord()
			defer rec.Release()
			s := NewSink(nil, "bench")
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				_ = s.columns(rec)
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
