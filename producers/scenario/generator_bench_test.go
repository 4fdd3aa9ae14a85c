package scenario

import (
	"testing"

	"github.com/spacepulse/spacepulse/schemas"
)

// BenchmarkGenerate measures events generated per second on one core,
// truth included, without and with the transport (delay, duplicates). One
// b.Loop iteration is one event; the generator restarts when a run ends.
func BenchmarkGenerate(b *testing.B) {
	f := func(name, variant string, opt Options) {
		b.Run(name+"/"+variant, func(b *testing.B) {
			sc, err := Load(name)
			if err != nil {
				b.Fatal(err)
			}
			g := NewGenerator(sc, opt)
			var ev schemas.Event
			b.ReportAllocs()
			b.SetBytes(1) // MB/s reads as millions of events per second
			for b.Loop() {
				if _, ok := g.Next(&ev); !ok {
					g = NewGenerator(sc, opt)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	f("trump-musk-2024", "event-order", Options{Seed: 1, Scale: 0.1, NoTransport: true})
	f("trump-musk-2024", "transport", Options{Seed: 1, Scale: 0.1})
	f("stress-8m", "event-order", Options{Seed: 1, Scale: 0.1, NoTransport: true})
	f("stress-8m", "transport", Options{Seed: 1, Scale: 0.1})
}
