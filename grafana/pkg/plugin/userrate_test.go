package plugin

import (
	"fmt"
	"testing"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestMissingRuns(t *testing.T) {
	f := func(have []bool, limit int, want string) {
		t.Helper()
		if got := fmt.Sprint(joinRuns(missing(have), limit)); got != want {
			t.Errorf("joinRuns(missing(%v), %d) = %s, want %s", have, limit, got, want)
		}
	}
	T, F := true, false
	f(nil, 4, "[]")
	f([]bool{T, T, T}, 4, "[]")
	f([]bool{F, F, F}, 4, "[[0 2]]")
	f([]bool{F, T, T, F, F}, 4, "[[0 0] [3 4]]")
	f([]bool{F, T, F, T, T, T, F, T, F}, 4, "[[0 0] [2 2] [6 6] [8 8]]")
	// Five runs into four: the smallest gap (one bucket, the first) goes.
	f([]bool{F, T, F, T, T, F, T, T, F, T, T, F}, 4, "[[0 2] [5 5] [8 8] [11 11]]")
	f([]bool{F, T, F, T, T, F, T, T, F, T, T, F}, 1, "[[0 11]]")
}

func TestUserCacheBound(t *testing.T) {
	c := newUserCache(10)
	v := &warehouse.EventsVersion{} // not versioned: nothing is ever served
	for i := range 20 {
		c.put(userKey{room: "r", step: 60, start: int64(i) * 60}, warehouse.RowsStamp{}, userFigures{attempts: 1})
	}
	// 9 buckets and the (empty) snapshot their stamps share: weight 9 + 1.
	if n, w := c.size(); n != 9 || w != 10 {
		t.Errorf("%d buckets of weight %d kept, want 9 of 10", n, w)
	}
	if _, ok := c.get(userKey{room: "r", step: 60, start: 19 * 60}, v, false); ok {
		t.Error("served a bucket from a snapshot that versions nothing")
	}
	if _, ok := c.get(userKey{room: "r", step: 60, start: 0}, v, false); ok {
		t.Error("served a bucket evicted first")
	}
	if n, w := c.size(); n != 8 || w != 9 {
		t.Errorf("%d buckets of weight %d after a failed check, want the bucket dropped (8 of 9)", n, w)
	}
}
