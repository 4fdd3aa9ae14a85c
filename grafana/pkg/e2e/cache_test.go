package e2e

import (
	"testing"
	"time"
)

// TestCachedCurveStaysExact asks for the same concurrency curve before and after a late event
// lands in its window (and after a merge): the plugin's curve cache must never serve the old one.
func TestCachedCurveStaysExact(t *testing.T) {
	conn, _, in := newDB(t)
	evs := scenario()
	insert(t, conn, evs)
	m := model{evs: evs}
	c := launch(t)
	from, to := t0, t0.Add(5*time.Minute)
	q := query{from: from, to: to, interval: time.Second, model: map[string]any{"queryType": "concurrency", "rooms": []string{"room-b"}}}
	check := func(stage string) {
		t.Helper()
		for range 2 { // the second time from the cache
			_, got := series[int64](t, c.one(t, in, q)[0], "listeners")
			_, want := m.concurrency("room-b", from, to, time.Second, false)
			same(t, stage, got, want)
		}
	}
	check("before")
	late := event{id: newID(), kind: "join", ts: t0.Add(time.Minute), space: "room-b", session: newID(), user: "late", client: "ios", joinMs: 10}
	insert(t, conn, []event{late})
	m.evs = append(m.evs, late)
	check("after a late join")
	if err := conn.Exec(ctx(t), "OPTIMIZE TABLE space_second_counts FINAL"); err != nil {
		t.Fatal(err)
	}
	check("after a merge")
	// A late leave in an earlier minute moves every later second of the cached curve.
	leave := event{id: newID(), kind: "leave", ts: t0.Add(30 * time.Second), space: "room-b", session: late.session, user: "late", client: "ios", joinMs: -1}
	insert(t, conn, []event{leave})
	m.evs = append(m.evs, leave)
	check("after a late leave")
}
