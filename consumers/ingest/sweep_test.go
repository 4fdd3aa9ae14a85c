package ingest

import (
	"reflect"
	"testing"
)

func TestMinuteRuns(t *testing.T) {
	got := minuteRuns([]int64{3, 4, 5, 9, 11, 12})
	want := [][2]int64{{3, 5}, {9, 9}, {11, 12}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("minuteRuns = %v, want %v", got, want)
	}
	if got := minuteRuns(nil); len(got) != 0 {
		t.Fatalf("minuteRuns(nil) = %v", got)
	}
}

// A repaired minute is swept again by the next sweepRechecks sweeps, then dropped; a minute
// that agreed is not swept again unless it lands again.
func TestSweepRechecks(t *testing.T) {
	var s sweep
	s.untake([]int64{10, 20}, nil)
	if got, _ := s.take(); !reflect.DeepEqual(got, []int64{10, 20}) {
		t.Fatalf("take = %v", got)
	}
	s.swept(10, 10, true)
	s.swept(20, 20, false)
	for i := range sweepRechecks {
		if got, _ := s.take(); !reflect.DeepEqual(got, []int64{10}) {
			t.Fatalf("recheck %d: take = %v, want [10]", i, got)
		}
		s.swept(10, 10, false)
	}
	if got, _ := s.take(); len(got) != 0 {
		t.Fatalf("after the rechecks: take = %v, want nothing", got)
	}
	s.force(30, 31)
	s.untake([]int64{40}, nil)
	all, forced := s.take()
	if !reflect.DeepEqual(all, []int64{30, 31, 40}) || !reflect.DeepEqual(forced, []int64{30, 31}) {
		t.Fatalf("take = %v, forced %v; want [30 31 40], [30 31]", all, forced)
	}
	// A sweep that could not run puts its minutes back, the forced ones still forced.
	s.untake(all, forced)
	if all, forced := s.take(); !reflect.DeepEqual(all, []int64{30, 31, 40}) || !reflect.DeepEqual(forced, []int64{30, 31}) {
		t.Fatalf("after untake: take = %v, forced %v; want [30 31 40], [30 31]", all, forced)
	}
}
