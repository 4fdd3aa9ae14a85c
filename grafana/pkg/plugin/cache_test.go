package plugin

import (
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestCurveCacheBound(t *testing.T) {
	c := newCurveCache(4000)
	curve := func(n int) warehouse.ConcurrencySeries {
		return warehouse.ConcurrencySeries{Time: make([]time.Time, n)}
	}
	key := func(i int) curveKey { return curveKey{room: "r", from: int64(i), to: int64(i) + 999, step: time.Second} }
	for i := range 6 {
		c.put(key(i), "v1", curve(1000))
	}
	// 4,000 points: the last four curves; the first two went, least recently used first.
	for i, want := range []bool{false, false, true, true, true, true} {
		if _, ok := c.get(key(i), "v1"); ok != want {
			t.Errorf("curve %d cached: %v, want %v", i, ok, want)
		}
	}
	if _, ok := c.get(key(5), "v2"); ok {
		t.Error("served a curve of another fingerprint")
	}
	if _, ok := c.get(key(5), "v1"); ok {
		t.Error("a curve whose fingerprint changed was kept")
	}
	c.put(key(9), "v1", curve(1001)) // over a quarter of the cache: not kept
	if _, ok := c.get(key(9), "v1"); ok || c.points != 3000 {
		t.Errorf("a curve over a quarter of the cache: kept %v, %d points cached, want 3000", ok, c.points)
	}
}
