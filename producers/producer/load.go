package producer

import (
	"context"
	"time"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// SendLoad produces the synthetic load l through p at rate events per second
// (0: as fast as p accepts them) and returns how many events were queued.
func SendLoad(ctx context.Context, p *Producer, l synth.Load, rate float64) (int64, error) {
	g := synth.NewGenerator(l)
	var ev schemas.Event
	var n int64
	start := time.Now()
	for g.Next(&ev) {
		if rate > 0 && n%1000 == 0 {
			due := start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return n, ctx.Err()
				}
			}
		}
		if err := p.Produce(ctx, &ev); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
