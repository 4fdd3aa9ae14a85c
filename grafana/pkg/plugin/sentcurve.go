package plugin

import "time"

// sentCurve is what one RunStream last sent of its room's curve: the CCL of each second of the
// stream's window, keyed by unix second. It is the stream goroutine's only state (one per
// channel, whatever the number of viewers) and is not safe for concurrent use.
type sentCurve struct {
	values map[int64]int64
}

func newSentCurve() *sentCurve { return &sentCurve{values: map[int64]int64{}} }

// changed returns the rows of a freshly queried window (times and values, one per second, in
// order) that were never sent or were sent with another value: the new seconds, and the seconds
// a late event moved since the last push. It does not record them; call sent once the frame went
// out, so a failed send is retried whole on the next tick.
func (c *sentCurve) changed(times []time.Time, values []int64) ([]time.Time, []int64) {
	var ts []time.Time
	var vs []int64
	for i, t := range times {
		if v, ok := c.values[t.Unix()]; ok && v == values[i] {
			continue
		}
		ts, vs = append(ts, t), append(vs, values[i])
	}
	return ts, vs
}

// sent records rows as sent and forgets the seconds before from (out of the window: final, or
// past the lateness the stream corrects).
func (c *sentCurve) sent(times []time.Time, values []int64, from int64) {
	for s := range c.values {
		if s < from {
			delete(c.values, s)
		}
	}
	for i, t := range times {
		c.values[t.Unix()] = values[i]
	}
}

// reset forgets everything, so the next push carries the whole window again.
func (c *sentCurve) reset() { clear(c.values) }
