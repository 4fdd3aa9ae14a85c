package warehouse_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestEventsVersionOnServer runs the changes warehouse.EventsVersion must see or may ignore on a
// real events table, for the stamp of one minute (m): inserts into other minutes and merges that
// fold nothing keep it; a late event, a copy of a landed event, the merge that folds the copy (a
// row fewer: a count() changes), a mutation and a dropped partition break it.
func TestEventsVersionOnServer(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	m := t0.Add(10 * time.Minute)
	from, to := t0, t0.Add(time.Hour-time.Second)
	at := func(d time.Duration, user string) event {
		return event{ID: uuid.New(), Session: uuid.New(), Space: "v", User: user, Role: "listener", JoinMs: 10,
			Kind: "join", TsMs: m.Add(d).UnixMilli()}
	}
	first := []event{at(5*time.Second, "a"), at(20*time.Second, "b")}
	insertEvents(t, ctx, conn, first)
	insertEvents(t, ctx, conn, []event{at(5*time.Minute, "c")})
	snapshot := func() *warehouse.EventsVersion {
		t.Helper()
		v, err := warehouse.ReadEventsVersion(ctx, conn, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Versioned() {
			t.Fatalf("a single server's events not versioned: %s", v.Why())
		}
		return v
	}
	lo, hi := m.Unix(), m.Unix()+59
	stamp := snapshot().Stamp(lo, hi)
	// check asks whether the minute's stamp holds, and renews it as the plugin's cache does.
	check := func(step string, want bool) {
		t.Helper()
		v := snapshot()
		if got := v.Unchanged(stamp, lo, hi); got != want {
			t.Errorf("after %s: Unchanged = %v, want %v (%d parts)", step, got, want, v.Parts())
		}
		stamp = v.Stamp(lo, hi)
	}
	exec := func(sql string) {
		t.Helper()
		if err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	check("nothing", true)
	insertEvents(t, ctx, conn, []event{at(20*time.Minute, "d")})
	check("an insert into a later minute", true)
	exec("OPTIMIZE TABLE events FINAL")
	check("OPTIMIZE FINAL", true)
	insertEvents(t, ctx, conn, []event{at(30*time.Second, "late")})
	check("a late event into the minute", false)
	insertEvents(t, ctx, conn, first[:1])
	check("a copy of a landed event", false)
	exec("OPTIMIZE TABLE events FINAL") // folds the copy: one row fewer in the minute
	check("the merge that folds the copy", false)
	insertEvents(t, ctx, conn, []event{at(40*time.Second, "new")})
	check("a new event after the merge (one more and one less row: the count would not tell)", false)
	exec("ALTER TABLE events DELETE WHERE user_id = 'new'")
	waitMutations(t, conn)
	check("a mutation", false)
	exec("ALTER TABLE events DROP PARTITION 202408")
	v := snapshot()
	if v.Unchanged(stamp, lo, hi) {
		t.Error("after DROP PARTITION: Unchanged")
	}
}

// waitMutations waits until no mutation of events runs (18.16 runs ALTER DELETE in the background).
func waitMutations(t *testing.T, conn warehouse.Querier) {
	t.Helper()
	ctx := testContext(t)
	for range 100 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'events' AND NOT is_done").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the mutation of events did not finish in 10 s")
}

// TestRetryStateGiven: the retry page evaluated on user_failure_rate.sql's minutes given
// (warehouse.UserAttempts over the window, as the plugin's cache keeps them) is AlertState's,
// minute for minute, on generated data with retries, including a window that ends mid-minute
// and the watermark judging the last minutes incomplete; UserAttempts reads UserFailureRate's
// users and attempts.
func TestRetryStateGiven(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	evs := generate(3, "given", t0, 400, 20)
	for _, b := range deliver(3, evs, 3) {
		insertEvents(t, ctx, conn, b)
	}
	f := func(from, to time.Time, wm warehouse.Watermark) {
		t.Helper()
		full, err := warehouse.UserFailureRate(ctx, conn, "given", from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		s, err := warehouse.UserAttempts(ctx, conn, "given", from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual([]any{s.Time, s.Users, s.Attempts}, []any{full.Time, full.Users, full.Attempts}) {
			t.Fatalf("%s-%s: UserAttempts %v %v, UserFailureRate %v %v", from, to, s.Users, s.Attempts, full.Users, full.Attempts)
		}
		want, err := warehouse.AlertState(ctx, conn, "given", from, to, warehouse.RetryRule, wm)
		if err != nil {
			t.Fatal(err)
		}
		got, err := warehouse.RetryStateGiven(ctx, conn, "given", from, to, wm, s.Time, s.Attempts, s.Users)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprintf("%+v", deref(got)), fmt.Sprintf("%+v", deref(want)); g != w {
			t.Errorf("%s-%s:\n got %.600s\nwant %.600s", from, to, g, w)
		}
		if len(want) == 0 {
			t.Errorf("%s-%s: no minutes", from, to)
		}
	}
	f(t0, t0.Add(25*time.Minute-time.Second), warehouse.Watermark{})
	f(t0.Add(3*time.Minute), t0.Add(11*time.Minute+17*time.Second), warehouse.Watermark{At: t0.Add(8 * time.Minute), Known: true})
	f(t0.Add(-time.Hour), t0.Add(-time.Minute), warehouse.Watermark{}) // before any event: nothing given
	if _, err := warehouse.RetryStateGiven(ctx, conn, "given", t0, t0.Add(time.Hour), warehouse.Watermark{},
		[]time.Time{t0.Add(30 * time.Second)}, []int64{1}, []int64{1}); err == nil {
		t.Error("a minute given that is not a whole minute: no error")
	}
}

// deref shows AlertMinute values, not their pointers.
func deref(ms []warehouse.AlertMinute) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		v := "nil"
		if m.Value != nil {
			v = fmt.Sprint(*m.Value)
		}
		out[i] = fmt.Sprintf("%s %s %v %v %s %v", m.Start.Format(time.RFC3339), v, m.Counts, m.Complete, m.State, m.Firing)
	}
	return out
}
