package plugin

import (
	"maps"
	"math/rand/v2"
	"testing"
	"time"
)

func TestSentCurveSendsNewAndChangedSeconds(t *testing.T) {
	c := newSentCurve()
	// f is one tick: the window queried from `from` (one value per second) and the rows it must send.
	f := func(from int64, values []int64, want map[int64]int64) {
		t.Helper()
		ts := make([]time.Time, len(values))
		for i := range values {
			ts[i] = time.Unix(from+int64(i), 0)
		}
		gt, gv := c.changed(ts, values)
		got := map[int64]int64{}
		for i, at := range gt {
			got[at.Unix()] = gv[i]
		}
		if !maps.Equal(got, want) {
			t.Errorf("window from %d %v: sent %v, want %v", from, values, got, want)
		}
		c.sent(gt, gv, from)
		for s := range c.values {
			if s < from {
				t.Errorf("window from %d: still holds second %d", from, s)
			}
		}
	}
	f(100, []int64{5, 6, 7}, map[int64]int64{100: 5, 101: 6, 102: 7}) // the first push: the whole window
	f(101, []int64{6, 7, 8}, map[int64]int64{103: 8})                 // one new second
	f(101, []int64{6, 7, 8}, map[int64]int64{})                       // nothing new: nothing sent
	// a late join at 102 moves every later second too, and 104 is new
	f(101, []int64{6, 8, 9, 9}, map[int64]int64{102: 8, 103: 9, 104: 9})
	// a late leave at 103 brings 103 and 104 back; 101 left the window
	f(102, []int64{8, 8, 8}, map[int64]int64{103: 8, 104: 8})
	c.reset()
	f(102, []int64{8, 8, 8}, map[int64]int64{102: 8, 103: 8, 104: 8}) // after a reset: the whole window
}

// TestSentCurveViewerStaysExact replays a night of ticks with late events (within the window)
// and failed sends: a viewer that keeps the last value received per second must hold, after every
// successful push, the brute-force CCL of every second of the window.
func TestSentCurveViewerStaysExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const window = 60
	delta := map[int64]int64{} // joins - leaves per second: the events landed so far
	ccl := func(s int64) int64 {
		var n int64
		for at, d := range delta {
			if at <= s {
				n += d
			}
		}
		return n
	}
	c := newSentCurve()
	viewer := map[int64]int64{}
	sentRows, changedRows := 0, 0
	for now := int64(1000); now < 1300; now++ {
		for range 5 { // on time
			delta[now] += int64(rng.IntN(3)) - 1
		}
		if rng.IntN(4) == 0 { // late, within the window
			delta[now-int64(rng.IntN(window))] += int64(rng.IntN(3)) - 1
		}
		from := now - window + 1
		ts := make([]time.Time, 0, window)
		vs := make([]int64, 0, window)
		for s := from; s <= now; s++ {
			ts, vs = append(ts, time.Unix(s, 0)), append(vs, ccl(s))
		}
		gt, gv := c.changed(ts, vs)
		if rng.IntN(10) == 0 {
			continue // the send failed: nothing recorded, the next tick sends it again
		}
		for i, at := range gt {
			viewer[at.Unix()] = gv[i]
			if at.Unix() < now {
				changedRows++
			}
		}
		sentRows += len(gt)
		c.sent(gt, gv, from)
		for i, at := range ts {
			if got := viewer[at.Unix()]; got != vs[i] {
				t.Fatalf("tick %d: viewer has %d at second %d, want %d", now, got, at.Unix(), vs[i])
			}
		}
	}
	if changedRows == 0 || sentRows >= 300*window {
		t.Errorf("sent %d rows (%d re-sent seconds): want some corrections and fewer than whole windows", sentRows, changedRows)
	}
}
