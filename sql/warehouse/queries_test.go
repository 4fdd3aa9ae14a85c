package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// loadScenario inserts two spaces' generated events, shuffled into several insert blocks (each
// event once, as the consumer lands them), and returns the brute-force model.
func loadScenario(t *testing.T) (model, driver.Conn) {
	t.Helper()
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	// No background merge until mergeAll: the first comparisons see one rollup row per cell and
	// insert block, as a live warehouse does.
	for _, table := range rollupTables {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatalf("stop merges on %s: %v", table, err)
		}
	}
	a := generate(1, "1YqJDqWLyEMGV", t0, 700, 20)
	b := generate(2, "other-space", t0.Add(-3*time.Minute), 150, 10)
	all := append(append([]event(nil), a...), b...)
	for _, batch := range deliver(3, all, 6) {
		insertEvents(t, ctx, conn, batch)
	}
	var stored, distinct uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&stored, &distinct); err != nil {
		t.Fatalf("count events: %v", err)
	}
	if distinct != uint64(len(all)) || stored != distinct {
		t.Fatalf("events holds %d rows, %d distinct; want %d, each once", stored, distinct, len(all))
	}
	// Cells must be split over several rows, or sum() over them is not being tested.
	var rows, cells uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(space_id, second, class) FROM space_second_counts").Scan(&rows, &cells); err != nil {
		t.Fatalf("count rollup rows: %v", err)
	}
	if rows <= cells {
		t.Fatalf("space_second_counts holds %d rows for %d cells, want cells split over insert blocks", rows, cells)
	}
	return newModel(all), conn
}

var rollupTables = []string{"events", "space_second_counts", "space_minute_counts"}

// mergeAll merges every table down to one row per key, as background merges eventually do.
func mergeAll(t *testing.T, conn driver.Conn) {
	t.Helper()
	ctx := testContext(t)
	for _, table := range rollupTables {
		if err := conn.Exec(ctx, "SYSTEM START MERGES "+table); err != nil {
			t.Fatalf("start merges on %s: %v", table, err)
		}
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatalf("optimize %s: %v", table, err)
		}
	}
	var rows, cells uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(space_id, second, class) FROM space_second_counts").Scan(&rows, &cells); err != nil {
		t.Fatalf("count rollup rows: %v", err)
	}
	if rows != cells {
		t.Fatalf("space_second_counts holds %d rows for %d cells after OPTIMIZE FINAL, want one each", rows, cells)
	}
}

func fmtRate(r *float64) string {
	if r == nil {
		return "nil"
	}
	return fmt.Sprintf("%.12f", *r)
}

func fmtInt(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestQueriesMatchBruteForce(t *testing.T) {
	const space = "1YqJDqWLyEMGV"
	start := t0.Unix()
	m, conn := loadScenario(t)
	ctx := testContext(t)

	// The data must exercise what the queries guard against, or the comparisons prove little.
	full := m.failureRate(space, start-600, start+1800, 60)
	var thin, busy int
	for _, b := range full {
		if b.Attempts > 0 && b.Attempts < warehouse.MinAttempts {
			thin++
		}
		if b.Attempts >= warehouse.MinAttempts {
			busy++
		}
	}
	if thin == 0 || busy == 0 {
		t.Fatalf("generated data has %d thin and %d busy minutes, want both", thin, busy)
	}
	if n := m.ccl(space, start+136); n < 10 {
		t.Fatalf("generated data has %d listeners before the mid-session window, want some", n)
	}
	busySeconds := map[int64]bool{}
	for _, e := range m.evs {
		if in(e, space, start+7*60+1, start+9*60) {
			busySeconds[e.sec()] = true
		}
	}
	if s := m.summary(space, start+7*60+1, start+9*60); s.JoinAttempts != 0 || len(busySeconds) > 100 {
		t.Fatalf("the quiet stretch has %d attempts and %d of 120 seconds with events, want none and some empty", s.JoinAttempts, len(busySeconds))
	}

	f := func(name string, from, to int64) {
		t.Helper()
		fromT, toT := time.Unix(from, 0).UTC(), time.Unix(to, 0).UTC()

		got, err := warehouse.Concurrency(ctx, conn, space, fromT, toT)
		if err != nil {
			t.Fatalf("%s: Concurrency: %v", name, err)
		}
		want := m.concurrency(space, from, to)
		if !reflect.DeepEqual(got, want) {
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					t.Fatalf("%s: Concurrency: %d points, want %d; first difference at %d: got %v, want %v",
						name, len(got), len(want), i, got[min(i, len(got)-1)], want[i])
				}
			}
			t.Fatalf("%s: Concurrency: %d points, want %d", name, len(got), len(want))
		}

		peak, err := warehouse.Peak(ctx, conn, space, fromT, toT)
		if err != nil {
			t.Fatalf("%s: Peak: %v", name, err)
		}
		if wantPeak := m.peak(space, from, to); peak != wantPeak {
			t.Fatalf("%s: Peak = %v, want %v", name, peak, wantPeak)
		}

		buckets, err := warehouse.FailureRate(ctx, conn, space, fromT, toT)
		if err != nil {
			t.Fatalf("%s: FailureRate: %v", name, err)
		}
		wantBuckets := m.failureRate(space, from, to, 60)
		if len(buckets) != len(wantBuckets) {
			t.Fatalf("%s: FailureRate: %d buckets, want %d", name, len(buckets), len(wantBuckets))
		}
		for i, b := range buckets {
			w := wantBuckets[i]
			if b.Start != w.Start || b.Attempts != w.Attempts || b.TechnicalFailures != w.TechnicalFailures ||
				b.BusinessFailures != w.BusinessFailures || fmtRate(b.Rate) != fmtRate(w.Rate) {
				t.Fatalf("%s: FailureRate[%d] = %v %d/%d/%d rate %s, want %v %d/%d/%d rate %s", name, i,
					b.Start, b.Attempts, b.TechnicalFailures, b.BusinessFailures, fmtRate(b.Rate),
					w.Start, w.Attempts, w.TechnicalFailures, w.BusinessFailures, fmtRate(w.Rate))
			}
		}

		sum, err := warehouse.Summary(ctx, conn, space, fromT, toT)
		if err != nil {
			t.Fatalf("%s: Summary: %v", name, err)
		}
		wantSum := m.summary(space, from, to)
		if g, w := summaryString(sum), summaryString(wantSum); g != w {
			t.Fatalf("%s: Summary\n got %s\nwant %s", name, g, w)
		}
		room, err := warehouse.RoomSummary(ctx, conn, space, fromT, toT)
		if err != nil {
			t.Fatalf("%s: RoomSummary: %v", name, err)
		}
		wantSum.ListeningSeconds, wantSum.SessionsListening, wantSum.MidSessionDrops, wantSum.DropsPer1000ListenerMinutes = 0, 0, 0, nil
		if g, w := summaryString(room), summaryString(wantSum); g != w {
			t.Fatalf("%s: RoomSummary\n got %s\nwant %s", name, g, w)
		}

		for _, dim := range warehouse.Dimensions {
			rows, err := warehouse.FailuresBy(ctx, conn, space, fromT, toT, dim)
			if err != nil {
				t.Fatalf("%s: FailuresBy(%s): %v", name, dim, err)
			}
			want := m.breakdown(space, from, to, dim)
			if len(rows) != len(want) {
				t.Fatalf("%s: FailuresBy(%s): %d rows, want %d", name, dim, len(rows), len(want))
			}
			for _, r := range rows {
				w := want[r.Value]
				if !sameBreakdown(r, w) {
					t.Fatalf("%s: FailuresBy(%s)[%q] = %+v rate %s, want %+v rate %s", name, dim, r.Value,
						r, fmtRate(r.FailureRate), w, fmtRate(w.FailureRate))
				}
			}
		}
	}
	windows := func() {
		t.Helper()
		f("whole data", start-300, start+25*60)
		f("window starting mid-session", start+137, start+19*60+13)
		f("quiet stretch", start+7*60+1, start+9*60)
		f("one second", start+61, start+61)
		f("before any event", start-3600, start-3000)
		f("after the last event", start+3600, start+3700)
		f("other space's time", start-200, start-100)
	}
	windows() // one rollup row per cell and insert block
	mergeAll(t, conn)
	windows() // merged: one row per rollup cell
}

func sameBreakdown(a, b warehouse.Breakdown) bool {
	return a.Value == b.Value && a.Attempts == b.Attempts && a.Joins == b.Joins &&
		a.TechnicalFailures == b.TechnicalFailures && a.BusinessFailures == b.BusinessFailures &&
		a.SessionErrors == b.SessionErrors &&
		fmtRate(a.FailureRate) == fmtRate(b.FailureRate)
}

// summaryString prints every figure of s, pointers by value.
func summaryString(s warehouse.SpaceSummary) string {
	return fmt.Sprintf("%s %s..%s peak=%v before=%d after=%d joins=%d leaves=%d attempts=%d failures=%d business=%d "+
		"session_errors=%d rate=%s users=%d failed=%d listeners=%d per_user=%s amplification=%s "+
		"latency=%d/%s/%s/%s listening=%d sessions=%d drops=%d drop_rate=%s",
		s.Space, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), s.Peak, s.ListenersBefore, s.ListenersAfter,
		s.Joins, s.Leaves, s.JoinAttempts, s.JoinFailures, s.BusinessJoinFailures, s.SessionErrors,
		fmtRate(s.JoinFailureRate), s.UsersAttempting, s.UsersFailed, s.UniqueListeners,
		fmtRate(s.PerUserFailureRate), fmtRate(s.RetryAmplification),
		s.JoinLatencySamples, fmtInt(s.JoinLatencyP50), fmtInt(s.JoinLatencyP95), fmtInt(s.JoinLatencyP99),
		s.ListeningSeconds, s.SessionsListening, s.MidSessionDrops, fmtRate(s.DropsPer1000ListenerMinutes))
}

// TestListeningTimeIsTheAreaUnderTheCurve checks the two definitions agree on the generated data,
// where every leave follows its join.
func TestListeningTimeIsTheAreaUnderTheCurve(t *testing.T) {
	m, conn := loadScenario(t)
	ctx := testContext(t)
	const space = "1YqJDqWLyEMGV"
	from, to := t0.Add(137*time.Second), t0.Add(19*time.Minute)
	sum, err := warehouse.Summary(ctx, conn, space, from, to)
	if err != nil {
		t.Fatalf("Summary: %v", err)
	}
	var area int64
	for _, p := range m.concurrency(space, from.Unix(), to.Unix()) {
		area += p.Listeners
	}
	if sum.ListeningSeconds != area || area == 0 {
		t.Fatalf("ListeningSeconds = %d, want the area under CCL %d (> 0)", sum.ListeningSeconds, area)
	}
}

func TestBoundsAndSpaces(t *testing.T) {
	m, conn := loadScenario(t)
	ctx := testContext(t)
	f := func(space string, wantErr error) {
		t.Helper()
		first, last, err := warehouse.Bounds(ctx, conn, space)
		if !errors.Is(err, wantErr) {
			t.Fatalf("Bounds(%q) error %v, want %v", space, err, wantErr)
		}
		if ok, err := warehouse.SpaceExists(ctx, conn, space); err != nil || ok != (wantErr == nil) {
			t.Fatalf("SpaceExists(%q) = %v, %v; want %v", space, ok, err, wantErr == nil)
		}
		if err != nil {
			return
		}
		lo, hi := int64(1<<62), int64(0)
		for _, e := range m.evs {
			if e.Space == space {
				lo, hi = min(lo, e.sec()), max(hi, e.sec())
			}
		}
		if first.Unix() != lo || last.Unix() != hi {
			t.Fatalf("Bounds(%q) = %v..%v, want %v..%v", space, first, last, time.Unix(lo, 0).UTC(), time.Unix(hi, 0).UTC())
		}
	}
	f("1YqJDqWLyEMGV", nil)
	f("other-space", nil)
	f("no-such-space", warehouse.ErrUnknownSpace)

	spaces, err := warehouse.Spaces(ctx, conn)
	if err != nil {
		t.Fatalf("Spaces: %v", err)
	}
	if len(spaces) != 2 || spaces[0].Space != "1YqJDqWLyEMGV" || spaces[1].Space != "other-space" {
		t.Fatalf("Spaces = %+v, want the two generated spaces", spaces)
	}
}

// TestBoundValuesAreNotSQL passes SQL in every user-supplied value: the queries must treat it as
// a space id that has no events, and the tables must be untouched.
func TestBoundValuesAreNotSQL(t *testing.T) {
	_, conn := loadScenario(t)
	ctx := testContext(t)
	countRows := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
			t.Fatalf("count events: %v", err)
		}
		return n
	}
	before := countRows()
	from, to := t0, t0.Add(5*time.Second)
	f := func(space string) {
		t.Helper()
		points, err := warehouse.Concurrency(ctx, conn, space, from, to)
		if err != nil {
			t.Fatalf("Concurrency(%q): %v", space, err)
		}
		for _, p := range points {
			if p.Listeners != 0 {
				t.Fatalf("Concurrency(%q) = %v, want all zero", space, points)
			}
		}
		sum, err := warehouse.Summary(ctx, conn, space, from, to)
		if err != nil {
			t.Fatalf("Summary(%q): %v", space, err)
		}
		if sum.JoinAttempts != 0 || sum.UsersAttempting != 0 || sum.Peak.Listeners != 0 {
			t.Fatalf("Summary(%q) = %s, want nothing", space, summaryString(sum))
		}
		if _, _, err := warehouse.Bounds(ctx, conn, space); !errors.Is(err, warehouse.ErrUnknownSpace) {
			t.Fatalf("Bounds(%q) error %v, want ErrUnknownSpace", space, err)
		}
		if ok, err := warehouse.SpaceExists(ctx, conn, space); err != nil || ok {
			t.Fatalf("SpaceExists(%q) = %v, %v; want false", space, ok, err)
		}
		rows, err := warehouse.FailuresBy(ctx, conn, space, from, to, "code")
		if err != nil || len(rows) != 0 {
			t.Fatalf("FailuresBy(%q) = %v, %v, want nothing", space, rows, err)
		}
	}
	f(`1YqJDqWLyEMGV' OR '1'='1`)
	f(`x'); DROP TABLE events; --`)
	f(`\'; DROP DATABASE system; --`)
	f(`" OR 1=1 -- @from @to {space:String}`)
	f("\x00'\n;TRUNCATE TABLE events")
	if after := countRows(); after != before {
		t.Fatalf("events has %d rows after the injection attempts, want %d", after, before)
	}
	if _, err := warehouse.FailuresBy(ctx, conn, "1YqJDqWLyEMGV", from, to, "code) OR (1=1"); err == nil {
		t.Fatalf("FailuresBy with a made-up dimension: no error")
	}
}

func TestWindowErrors(t *testing.T) {
	f := func(from, to time.Time, want error) {
		t.Helper()
		// The window is checked before anything is sent, so no connection is needed.
		if _, err := warehouse.Concurrency(context.Background(), nil, "s", from, to); !errors.Is(err, want) && want != nil {
			t.Fatalf("Concurrency(%v, %v) error %v, want %v", from, to, err, want)
		}
	}
	f(t0.Add(time.Second), t0, warehouse.ErrEmptyWindow)
	f(t0, t0.Add(warehouse.MaxWindow+time.Second), warehouse.ErrWindowTooLong)
	f(time.Unix(-1, 0), t0, warehouse.ErrWindowRange)
}
