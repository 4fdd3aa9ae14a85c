package ingest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkIndexCheck is the index's cost per event on the batcher's path (a fresh id into a
// minute's set), and its memory per id (bytes-per-id, from the heap before and after).
func BenchmarkIndexCheck(b *testing.B) {
	for _, n := range []int{100_000, 2_000_000} {
		b.Run(fmtCount(n), func(b *testing.B) {
			ids := make([]uuid.UUID, n)
			for i := range ids {
				ids[i] = uuid.New()
			}
			b.ReportAllocs()
			var perID float64
			for b.Loop() {
				var landed atomic.Int64
				x := newIndex(time.Hour, n+1, time.Now, &landed)
				x.coverAll()
				p := pending{}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for i, id := range ids {
					x.check(int64(i/5000), id, p) // 5,000 events a second, all in the window
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perID = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(x)
			}
			b.ReportMetric(perID, "bytes-per-id")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns-per-id")
		})
	}
}

func fmtCount(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("ids=%dM", n/1_000_000)
	}
	return fmt.Sprintf("ids=%dk", n/1000)
}
