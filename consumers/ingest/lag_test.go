package ingest

import (
	"testing"
	"time"
)

// A partition's lag age is the time since the poller first saw the oldest uncommitted message:
// the first poll whose end offset passed the committed offset.
func TestPartitionLagAge(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var pl partitionLag
	f := func(s int, end, committed int64, want int) {
		t.Helper()
		pl.observe(end, committed, at(s))
		if got := pl.age(at(s)); got != time.Duration(want)*time.Second {
			t.Fatalf("at %ds end %d committed %d: age %s, want %ds", s, end, committed, got, want)
		}
	}
	f(0, 10, 10, 0)   // caught up
	f(5, 20, 10, 0)   // offsets 10-19 seen now
	f(10, 30, 10, 5)  // still waiting on offset 10, seen at 5 s
	f(15, 40, 10, 10) // the outage goes on: the age keeps rising
	f(20, 40, 25, 10) // 20-24 committed: offset 25 was seen at 10 s
	f(25, 40, 30, 10) // offset 30 was seen at 15 s
	f(30, 40, 40, 0)  // caught up
	f(35, 41, 40, 0)  // one new message, seen now
	f(40, 41, 40, 5)
	// A backlog there before the first poll counts from that poll.
	pl = partitionLag{}
	f(0, 1000, 0, 0)
	f(7, 1000, 0, 7)
	// The list stays bounded while the outage lasts, and the age a bound.
	pl = partitionLag{}
	for s := range 2000 {
		pl.observe(int64(s+1), 0, at(s))
	}
	if len(pl.seen) > maxSeen || pl.age(at(2000)) != 2000*time.Second {
		t.Fatalf("after 2000 polls: %d seen, age %s; want at most %d and 2000s", len(pl.seen), pl.age(at(2000)), maxSeen)
	}
}
