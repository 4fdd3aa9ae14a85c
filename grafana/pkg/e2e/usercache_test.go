package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// attemptsIn makes minute m (from t0) of room: users trying 1 to 4 times each, the last try a
// join for two users in three, the others technical errors (so failed users, rates over and
// under the 25-attempt floor, and retry amplification over and under 2).
func attemptsIn(room string, m, users int, tag string) []event {
	var evs []event
	for u := range users {
		tries := 1 + (u*3+m)%4
		joins := (u+m)%3 != 0
		for k := range tries {
			e := event{id: newID(), kind: "error", phase: "join", code: "timeout", space: room, session: newID(),
				ts:   t0.Add(time.Duration(m)*time.Minute + time.Duration((u*13+k*7)%60)*time.Second),
				user: fmt.Sprintf("%su%d", tag, u+m%3), client: "ios", region: "us-east-1", country: "US", joinMs: -1}
			if k == tries-1 && joins {
				e.kind, e.phase, e.code, e.joinMs = "join", "", "", 100
			}
			evs = append(evs, e)
		}
	}
	return evs
}

// perUserPanel is one answer of the per-user failure-rate panel: a line per bucket (time,
// attempts, failed users, users, rate) and how many buckets the plugin computed from events.
func perUserPanel(t *testing.T, c *client, in instance, room string, from, to time.Time) ([]string, int) {
	t.Helper()
	frames := c.one(t, in, query{from: from, to: to, interval: time.Minute, model: map[string]any{
		"queryType": "joinFailureRate", "rooms": []string{room}, "rate": "perUser", "includeCounts": true, "intervalSeconds": 60}})
	ts, rates := series[*float64](t, frames[0], "rate")
	_, attempts := series[int64](t, frames[0], "attempts")
	_, failed := series[int64](t, frames[0], "failures")
	_, users := series[int64](t, frames[0], "users")
	lines := make([]string, len(ts))
	for i := range ts {
		lines[i] = fmt.Sprint(ts[i].Format("15:04"), " ", attempts[i], " ", failed[i], " ", users[i], " ", fmtRate(rates[i]))
	}
	return lines, computedOf(t, frames[0])
}

// computedOf reads the frame statistic "buckets computed" (the others came from the cache).
func computedOf(t *testing.T, f *data.Frame) int {
	t.Helper()
	if f.Meta != nil {
		for _, s := range f.Meta.Stats {
			if s.DisplayName == "buckets computed" {
				return int(s.Value)
			}
		}
	}
	t.Fatalf("frame %s has no statistic \"buckets computed\" (meta %+v)", f.Name, f.Meta)
	return 0
}

// perUserWant is the panel by brute force over rows, the rows events holds (a copy until a merge
// folds it is a row: attempts count rows, as user_failure_rate.sql defines them).
func perUserWant(rows []event, room string, from, to time.Time) []string {
	buckets := model{evs: rows}.buckets(room, from, to, time.Minute, "")
	var lines []string
	for s := epochFloor(from, time.Minute); !s.After(to); s = s.Add(time.Minute) {
		b := buckets[fmt.Sprint(s.Unix(), "/")]
		if b == nil {
			continue
		}
		var rate *float64
		if b.attempts >= 25 {
			v := float64(b.usersFailed) / float64(b.users)
			rate = &v
		}
		lines = append(lines, fmt.Sprint(s.Format("15:04"), " ", b.attempts, " ", b.usersFailed, " ", b.users, " ", fmtRate(rate)))
	}
	return lines
}

// retryPanel is the retry page's panel through the plugin and the number of minutes it computed.
func retryPanel(t *testing.T, c *client, in instance, room string, from, to time.Time) ([]string, int) {
	t.Helper()
	frames := c.one(t, in, query{from: from, to: to, interval: time.Minute,
		model: map[string]any{"queryType": "alertState", "rooms": []string{room}, "rule": "retryAmplification"}})
	f := frames[0]
	ts, firing := series[float64](t, f, "firing")
	_, values := series[*float64](t, f, "amplification")
	_, attempts := series[int64](t, f, "attempts")
	_, users := series[int64](t, f, "users")
	_, states := series[string](t, f, "state")
	lines := make([]string, len(ts))
	for i := range ts {
		lines[i] = fmt.Sprint(ts[i].Format("15:04"), " ", fmtRate(values[i]), " ", attempts[i], " ", users[i], " ", states[i], " ", firing[i] == 1)
	}
	return lines, computedOf(t, f)
}

// retryWant is the retry page read whole from events (warehouse.AlertState, no cache), from the
// room's first event as the plugin evaluates it, and its counts checked against the rows.
func retryWant(t *testing.T, conn driver.Conn, rows []event, room string, from, to time.Time) []string {
	t.Helper()
	first, _, err := warehouse.Bounds(ctx(t), conn, room)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := warehouse.AlertState(ctx(t), conn, room, first, to, warehouse.RetryRule, warehouse.Watermark{})
	if err != nil {
		t.Fatal(err)
	}
	buckets := model{evs: rows}.buckets(room, first.Truncate(time.Minute), to, time.Minute, "")
	var lines []string
	for _, m := range ms {
		if m.Start.Before(from.Truncate(time.Minute)) {
			continue
		}
		var a, u int64
		if b := buckets[fmt.Sprint(m.Start.Unix(), "/")]; b != nil {
			a, u = b.attempts, b.users
		}
		if m.Counts != [2]int64{a, u} {
			t.Fatalf("minute %s: AlertState counts %v, the rows %d attempts by %d users", m.Start, m.Counts, a, u)
		}
		lines = append(lines, fmt.Sprint(m.Start.Format("15:04"), " ", fmtRate(m.Value), " ", m.Counts[0], " ", m.Counts[1], " ", m.State, " ", m.Firing))
	}
	return lines
}

// TestPerUserCacheExactWhileLive asks the per-user panel and the retry page through the plugin
// after each of the things that happen to a live room's rows, and compares every bucket with a
// brute-force count of the rows events holds: new minutes, late events into old minutes, a copy
// of a landed event through a second insert (a row until a merge folds it), a reconciler's
// correction row in space_minute_counts (no row of events), the merge that folds the copy, and
// then a new event into the copy's minute (a count of rows would be back where it was). Merges
// are stopped on events only while the copy sits in it, so that the rows are known; otherwise
// ClickHouse merges in the background as it likes.
func TestPerUserCacheExactWhileLive(t *testing.T) {
	conn, _, in := newDB(t)
	c := launch(t)
	const room = "live"
	var rows []event
	land := func(evs []event) {
		t.Helper()
		insert(t, conn, evs)
		rows = append(rows, evs...)
	}
	exec := func(sql string) {
		t.Helper()
		if err := conn.Exec(ctx(t), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for m := range 6 {
		land(attemptsIn(room, m, 12+m*3, ""))
	}
	from, to := t0, t0.Add(12*time.Minute-time.Second)
	unaligned := [2]time.Time{t0.Add(-17 * time.Second), t0.Add(9*time.Minute + 23*time.Second)}
	answers := 0
	check := func(step string) {
		t.Helper()
		for _, w := range [][2]time.Time{{from, to}, unaligned} {
			for range 2 { // the second time mostly from the cache
				got, _ := perUserPanel(t, c, in, room, w[0], w[1])
				same(t, fmt.Sprintf("per-user panel %s-%s after %s", w[0].Format("15:04:05"), w[1].Format("15:04:05"), step),
					got, perUserWant(rows, room, w[0], w[1]))
				page, _ := retryPanel(t, c, in, room, w[0], w[1])
				same(t, fmt.Sprintf("retry page %s-%s after %s", w[0].Format("15:04:05"), w[1].Format("15:04:05"), step),
					page, retryWant(t, conn, rows, room, w[0], w[1]))
				answers += 2
			}
		}
	}
	check("the first minutes")
	land(attemptsIn(room, 6, 30, ""))
	land(attemptsIn(room, 7, 8, "")) // under 25 attempts: no rate, no data for the page
	var calm []event                 // one try each: a good minute, which clears the page
	for u := range 40 {
		calm = append(calm, event{id: newID(), kind: "join", ts: t0.Add(8*time.Minute + time.Duration(u)*time.Second), space: room,
			session: newID(), user: fmt.Sprintf("calm%d", u), client: "web", joinMs: 80})
	}
	land(calm)
	check("new minutes")
	late := attemptsIn(room, 2, 5, "late-")
	late = append(late, event{id: newID(), kind: "join", ts: t0.Add(2*time.Minute + 59*time.Second), space: room,
		session: newID(), user: "u3", client: "ios", joinMs: 50}) // u3 failed every try in minute 2, and gets in late
	land(late)
	check("late events into minute 2")

	// A copy sits in events until a merge folds it: merges stopped meanwhile, so the rows are known.
	inMinute3 := func(i int) event {
		for _, e := range rows {
			if e.ts.Sub(t0) >= 3*time.Minute && e.ts.Sub(t0) < 4*time.Minute {
				if i--; i < 0 {
					return e
				}
			}
		}
		t.Fatal("minute 3 has too few events")
		return event{}
	}
	exec("SYSTEM STOP MERGES events")
	land([]event{inMinute3(0)}) // a copy: another insert, same event_id
	check("a copy of a landed event of minute 3")
	exec(`INSERT INTO space_minute_counts (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, events)
SELECT 'live', toDateTime('2024-08-13 00:03:00', 'UTC'), 'join', '', 0, '', '', 'ios', '1.0', 'us-east-1', 'US', -1`)
	check("a correction row in space_minute_counts")
	exec("SYSTEM START MERGES events")
	exec("OPTIMIZE TABLE events FINAL")
	rows = dedup(rows)
	check("the merge that folds the copy")
	// The sequence that fools a count: a copy (one row more), answered; the merge that folds it
	// (one fewer) and a new event (one more again), answered only after both.
	exec("SYSTEM STOP MERGES events")
	land([]event{inMinute3(1)})
	check("another copy in minute 3")
	exec("SYSTEM START MERGES events")
	exec("OPTIMIZE TABLE events FINAL")
	rows = dedup(rows)
	land([]event{{id: newID(), kind: "join", ts: t0.Add(3*time.Minute + 30*time.Second), space: room, session: newID(),
		user: "after-merge", client: "ios", joinMs: 70}})
	check("the merge that folds it and a new event in minute 3 (as many rows as with the copy)")
	exec("OPTIMIZE TABLE events FINAL")
	check("a merge that folds nothing")
	t.Logf("%d answers, each compared bucket by bucket with the rows", answers)
}

// dedup is rows after a merge that folds every copy: each event_id once.
func dedup(rows []event) []event {
	seen := map[string]bool{}
	var out []event
	for _, e := range rows {
		if !seen[e.id.String()] {
			seen[e.id.String()] = true
			out = append(out, e)
		}
	}
	return out
}

// TestPerUserCacheComputesOnlyChanged counts the buckets the plugin computes from events: none
// for a second identical query, one after a late event into one old minute, the two cut edges of a
// window that is not minute-aligned, none after merges that fold nothing, and all of them for a
// new datasource instance (a cache of its own) and when the window's buckets are not whole
// minutes (no cache). Merges of events run only when the test asks (OPTIMIZE): a background
// merge of the late event's part with the minutes' parts would make the plugin compute every
// minute the merged part spans again (it cannot tell whose rows are whose), and the counts would
// depend on when ClickHouse merges.
func TestPerUserCacheComputesOnlyChanged(t *testing.T) {
	conn, cfg, in := newDB(t)
	c := launch(t)
	const room = "counted"
	exec := func(sql string) {
		t.Helper()
		if err := conn.Exec(ctx(t), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("SYSTEM STOP MERGES events")
	var rows []event
	for m := range 10 {
		evs := attemptsIn(room, m, 15, "")
		insert(t, conn, evs)
		rows = append(rows, evs...)
	}
	from, to := t0, t0.Add(10*time.Minute-time.Second)
	f := func(step string, in instance, from, to time.Time, want int) {
		t.Helper()
		got, computed := perUserPanel(t, c, in, room, from, to)
		same(t, "per-user panel after "+step, got, perUserWant(rows, room, from, to))
		if computed != want {
			t.Errorf("after %s: %d buckets computed, want %d", step, computed, want)
		}
	}
	f("the first query", in, from, to, 10)
	f("the same query again", in, from, to, 0)
	late := event{id: newID(), kind: "error", phase: "join", code: "timeout", ts: t0.Add(4*time.Minute + 10*time.Second),
		space: room, session: newID(), user: "late", client: "ios", joinMs: -1}
	insert(t, conn, []event{late})
	rows = append(rows, late)
	f("a late event into minute 4", in, from, to, 1)
	f("nothing", in, from, to, 0)
	f("nothing, asked with a window cut at both ends", in, from.Add(-30*time.Second), to.Add(-20*time.Second), 2)
	exec("SYSTEM START MERGES events")
	exec("OPTIMIZE TABLE events FINAL")
	exec("SYSTEM STOP MERGES events")
	f("a merge that folds nothing", in, from, to, 0)
	f("nothing, asked through another datasource instance", newInstance(cfg, cfg.Password, nil), from, to, 10)
	got, computed := retryPanel(t, c, in, room, from, to)
	same(t, "retry page", got, retryWant(t, conn, rows, room, from, to))
	if computed != 0 {
		t.Errorf("the retry page computed %d minutes the per-user panel had cached, want 0", computed)
	}
	frames := c.one(t, in, query{from: from, to: to, interval: 90 * time.Second, model: map[string]any{
		"queryType": "joinFailureRate", "rooms": []string{room}, "rate": "perUser", "includeCounts": true, "intervalSeconds": 90}})
	if n := computedOf(t, frames[0]); n != 7 {
		t.Errorf("buckets of 90 s: %d computed, want all 7 (not cached)", n)
	}
}
