package warehouse

import (
	"slices"
	"testing"
)

// table models the events table's active parts as MergeTree keeps them: one block counter for
// the table, an insert takes the next number as it appears, a merge joins adjacent parts of a
// partition (folding copies: fewer rows), a mutation rewrites parts under their range with the
// mutation's number.
type table struct {
	id      eventsIdentity
	counter int64
	parts   []eventsPart
}

// insert adds a part of August 2024 with rows rows whose ts go from lo to hi (unix seconds).
func (tb *table) insert(lo, hi, rows int64) {
	tb.counter++
	tb.parts = append(tb.parts, eventsPart{partition: "202408", minBlock: tb.counter, maxBlock: tb.counter,
		version: tb.counter, rows: rows, minTime: lo, maxTime: hi})
}

// merge joins the parts at i and i+1 (in block order), folding folded rows.
func (tb *table) merge(i int, folded int64) {
	slices.SortFunc(tb.parts, func(a, b eventsPart) int { return int(a.minBlock - b.minBlock) })
	a, b := tb.parts[i], tb.parts[i+1]
	m := eventsPart{partition: a.partition, minBlock: a.minBlock, maxBlock: b.maxBlock, version: max(a.version, b.version),
		rows: a.rows + b.rows - folded, minTime: min(a.minTime, b.minTime), maxTime: max(a.maxTime, b.maxTime)}
	tb.parts = slices.Replace(tb.parts, i, i+2, m)
}

// mutate rewrites every part (ALTER ... DELETE of nothing), a new mutation id.
func (tb *table) mutate() {
	tb.counter++
	for i := range tb.parts {
		tb.parts[i].version = tb.counter
	}
	tb.id.mutations++
}

// snapshot is what events_version.sql reads for [from, to] (all in August 2024).
func (tb *table) snapshot(from, to int64) *EventsVersion {
	s := &partsSnapshot{id: tb.id, from: from, to: to}
	for _, p := range tb.parts {
		s.horizon = max(s.horizon, p.maxBlock, p.version)
		if p.partition == "202408" {
			s.parts = append(s.parts, p)
		}
	}
	return &EventsVersion{snap: s}
}

const m0 = 1723507200 // the minute the tests stamp: 2024-08-13T00:00:00Z

func TestEventsVersionSeesEveryChange(t *testing.T) {
	// f runs ops on a table holding a part over the whole window, a part of the last minutes and
	// a part of later hours, stamps minute m0 before them, and checks whether the stamp still
	// holds after.
	f := func(name string, ops func(tb *table), want bool) {
		t.Helper()
		tb := &table{id: eventsIdentity{host: "h", created: 1, started: 100}}
		tb.insert(m0-3600, m0+3600, 1000) // the night so far
		tb.insert(m0+3000, m0+3600, 50)   // a recent batch
		tb.insert(m0+7200, m0+7799, 10)   // later, out of the window
		v := tb.snapshot(m0-3600, m0+3600)
		stamp := v.Stamp(m0, m0+59)
		if !v.Unchanged(stamp, m0, m0+59) {
			t.Fatalf("%s: a fresh stamp does not hold", name)
		}
		ops(tb)
		if got := tb.snapshot(m0-3600, m0+3600).Unchanged(stamp, m0, m0+59); got != want {
			t.Errorf("%s: Unchanged = %v, want %v", name, got, want)
		}
	}
	f("nothing", func(tb *table) {}, true)
	f("an insert into a later minute", func(tb *table) { tb.insert(m0+3500, m0+3599, 5) }, true)
	f("an insert into another month", func(tb *table) {
		tb.counter++
		tb.parts = append(tb.parts, eventsPart{partition: "202409", minBlock: tb.counter, maxBlock: tb.counter, version: tb.counter,
			rows: 1, minTime: m0 + 40*86400, maxTime: m0 + 40*86400})
	}, true)
	f("a late event into the minute", func(tb *table) { tb.insert(m0+30, m0+3599, 5) }, false)
	f("a batch whose time range spans the minute", func(tb *table) { tb.insert(m0-10, m0+600, 5) }, false)
	f("a merge of the parts it was stamped on", func(tb *table) { tb.merge(0, 0) }, true)
	f("a merge of everything", func(tb *table) { tb.merge(0, 0); tb.merge(0, 0) }, true)
	f("a merge that folds a copy", func(tb *table) { tb.merge(0, 1) }, false)
	f("a merge that folds a copy, then another merge", func(tb *table) { tb.merge(1, 1); tb.merge(0, 0) }, false)
	f("a late event then merges that hide it", func(tb *table) { tb.insert(m0+30, m0+40, 1); tb.merge(0, 0); tb.merge(0, 0); tb.merge(0, 0) }, false)
	// A part landed since, not in the minute, merged with the minute's: the merged part cannot
	// tell, so the minute is computed again.
	f("a merge with a part landed since", func(tb *table) { tb.insert(m0+3500, m0+3599, 5); tb.merge(0, 0); tb.merge(0, 0); tb.merge(0, 0) }, false)
	f("a mutation", func(tb *table) { tb.mutate() }, false)
	f("the partition dropped", func(tb *table) {
		tb.parts = slices.DeleteFunc(tb.parts, func(p eventsPart) bool { return p.partition == "202408" })
	}, false)
	f("the partition dropped and a part landed later", func(tb *table) {
		tb.parts = slices.DeleteFunc(tb.parts, func(p eventsPart) bool { return p.partition == "202408" })
		tb.insert(m0+3500, m0+3599, 5)
	}, false)
	f("a part detached, its neighbours merged over the gap", func(tb *table) {
		tb.insert(m0+3500, m0+3599, 5)
		tb.parts = slices.Delete(tb.parts, 1, 2) // the recent batch
		tb.merge(0, 0)
		tb.merge(0, 0)
	}, false)
	f("the table made again", func(tb *table) {
		*tb = table{id: eventsIdentity{host: "h", created: 2, started: 100}}
		tb.insert(m0-3600, m0+3600, 1000)
		tb.insert(m0+3000, m0+3600, 50)
		tb.insert(m0+7200, m0+7799, 10)
	}, false)
	f("the table made again with the same metadata time", func(tb *table) {
		*tb = table{id: tb.id} // caught by its counter behind the stamp's horizon
		tb.insert(m0-3600, m0+3600, 1000)
	}, false)
	f("the server restarted", func(tb *table) { tb.id.started += 3600 }, false)
	f("the server's start read a second apart", func(tb *table) { tb.id.started++ }, true)
}

func TestEventsVersionRestampHoldsAcrossMerges(t *testing.T) {
	// A stamp renewed at each refresh (as the plugin's cache does) survives a merge of parts the
	// renewed snapshot already held, but not a merge that takes in a part landed since.
	tb := &table{id: eventsIdentity{host: "h"}}
	tb.insert(m0-3600, m0+3600, 100)
	v := tb.snapshot(m0-3600, m0+3600)
	stamp := v.Stamp(m0, m0+59)
	tb.insert(m0+3000, m0+3599, 10) // a later minute: the stamp holds, renew it
	v = tb.snapshot(m0-3600, m0+3600)
	if !v.Unchanged(stamp, m0, m0+59) {
		t.Fatal("an insert into a later minute changed the minute")
	}
	stamp = v.Stamp(m0, m0+59)
	tb.merge(0, 0) // the old part with the later one: both in the renewed snapshot
	if !tb.snapshot(m0-3600, m0+3600).Unchanged(stamp, m0, m0+59) {
		t.Error("a merge of parts the renewed stamp held changed the minute")
	}
	tb.insert(m0+3500, m0+3599, 10)
	tb.merge(0, 0) // takes in a part the stamp never saw: it cannot tell, so it says changed
	if tb.snapshot(m0-3600, m0+3600).Unchanged(stamp, m0, m0+59) {
		t.Error("a merge with a part landed since the stamp left the minute unchanged")
	}
}

func TestEventsVersionRefuses(t *testing.T) {
	tb := &table{id: eventsIdentity{host: "h"}}
	tb.insert(m0, m0+10, 1)
	v := tb.snapshot(m0, m0+3599)
	f := func(name string, got, want bool) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	f("inside the window", v.Unchanged(v.Stamp(m0, m0+59), m0, m0+59), true)
	f("outside the window", v.Unchanged(v.Stamp(m0+3600, m0+3659), m0+3600, m0+3659), false)
	f("the zero stamp", v.Unchanged(RowsStamp{}, m0, m0+59), false)
	nv := tb.snapshot(m0, m0+3599)
	nv.why = "events is a Distributed table"
	f("not versioned", nv.Unchanged(v.Stamp(m0, m0+59), m0, m0+59), false)
	f("not versioned stamps nothing", nv.Stamp(m0, m0+59) == RowsStamp{}, true)
	f("stamps of one snapshot are equal", v.Stamp(m0, m0+59) == v.Stamp(m0+60, m0+119), true)
}
