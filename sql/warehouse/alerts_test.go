package warehouse_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// minutes builds one per-minute bucket from t0 for each character of pattern:
//
//	B bad (100 attempts, 20 technical failures)    g good (100 attempts, 1 technical failure)
//	. no data (24 attempts, all technical failures) _ no bucket at all (a gap)
//	x business only (100 attempts, 100 space_ended) = exactly 5 % (100 attempts, 5 technical)
func minutes(pattern string) []warehouse.FailureBucket {
	var out []warehouse.FailureBucket
	for i, c := range pattern {
		b := warehouse.FailureBucket{Start: t0.Add(time.Duration(i) * time.Minute), Attempts: 100}
		switch c {
		case 'B':
			b.TechnicalFailures = 20
		case 'g':
			b.TechnicalFailures = 1
		case '.':
			b.Attempts, b.TechnicalFailures = 24, 24
		case 'x':
			b.BusinessFailures = 100
		case '=':
			b.TechnicalFailures = 5
		case '_':
			continue
		default:
			panic("minutes: unknown " + string(c))
		}
		out = append(out, b)
	}
	return out
}

// timeline formats firings as "fired-cleared" in minutes from t0, "fired-" when still firing.
func timeline(ts []warehouse.AlertTransition) string {
	var parts []string
	for _, a := range ts {
		s := fmt.Sprintf("%d-", int(a.FiredAt.Sub(t0)/time.Minute))
		if !a.ClearedAt.IsZero() {
			s += fmt.Sprint(int(a.ClearedAt.Sub(t0) / time.Minute))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestAlertStatePatterns runs alert_state.sql on rooms built from patterns (see minutes), each
// its own space in one database, and checks each firing; the same patterns go through the model.
func TestAlertStatePatterns(t *testing.T) {
	type tc struct {
		rule          warehouse.AlertRule
		pattern, want string
	}
	var cases []tc
	f := func(pattern, want string) { cases = append(cases, tc{warehouse.PageRule, pattern, want}) }
	f("gggg", "")
	f("B", "")                            // one bad minute is not enough
	f("BB", "2-")                         // fires at the end of the 2nd bad minute, still firing
	f("gBBg", "3-4")                      // clears at the end of the first good minute
	f("BBBBBgg", "2-6")                   // stays fired while bad, one firing only
	f("BgBgBg", "")                       // flapping never fires
	f("BBgBB", "2-3 5-")                  // fires again after clearing
	f("BBgB", "2-3")                      // one bad minute after a clear is pending, not firing
	f("xxxxxx", "")                       // business errors never page
	f("BBxx", "2-3")                      // ... and a business-only minute is good: it clears
	f("====", "")                         // exactly 5 % is not over 5 %
	f("B.B", "")                          // no data breaks a pending run
	f("BB...g", "2-6")                    // no data keeps a firing alert firing
	f("BB...", "2-")                      // ... to the end
	f("B__B", "")                         // a gap is no data: breaks a pending run
	f("BB__g", "2-5")                     // ... and keeps firing; clears at the end of the good minute
	f("....BB..BBg.", "6-11")             // low traffic around a failure
	f("gBBggBBBg.BBBxx", "3-4 7-9 12-14") // several firings

	// The rule's fields.
	g := func(rule warehouse.AlertRule, pattern, want string) {
		rule.Input, rule.Step = warehouse.PageRule.Input, warehouse.PageRule.Step
		cases = append(cases, tc{rule, pattern, want})
	}
	g(warehouse.AlertRule{Threshold: 0.05, For: 1, MinAttempts: 25}, "gBg", "2-3")
	g(warehouse.AlertRule{Threshold: 0.05, For: 0, MinAttempts: 25}, "gBg", "2-3") // For < 1 is 1
	g(warehouse.AlertRule{Threshold: 0.05, For: 3, MinAttempts: 25}, "BBgBBBg", "6-7")
	g(warehouse.AlertRule{Threshold: 0.25, For: 2, MinAttempts: 25}, "BBBB", "")   // 20 % is not over 25 %
	g(warehouse.AlertRule{Threshold: 0.04, For: 2, MinAttempts: 25}, "====", "2-") // 5 % is over 4 %
	g(warehouse.AlertRule{Threshold: 0.05, For: 2, MinAttempts: 20}, "..", "2-")   // 24 attempts are data now

	conn, _ := newTestDB(t)
	ctx := testContext(t)
	var evs []event
	for i, c := range cases {
		evs = append(evs, patternEvents(fmt.Sprint("p", i), c.pattern)...)
	}
	insertEvents(t, ctx, conn, evs)
	for i, c := range cases {
		if got := timeline(modelTimeline(minutes(c.pattern), c.rule)); got != c.want {
			t.Errorf("model(%q, %+v) = %q, want %q", c.pattern, c.rule, got, c.want)
		}
		got := timeline(warehouse.Transitions(alertState(t, conn, fmt.Sprint("p", i), c.pattern, c.rule, warehouse.Watermark{})))
		if got != c.want {
			t.Errorf("alert_state(%q, %+v) = %q, want %q", c.pattern, c.rule, got, c.want)
		}
	}
}

// TestAlertStateMatchesModel checks alert_state.sql against the model on random rooms, whole and
// cut off by a watermark: a minute not yet complete is judged by neither, and carries the state
// before it.
func TestAlertStateMatchesModel(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	rng := rand.New(rand.NewPCG(7, 8))
	patterns := make([]string, 40)
	var evs []event
	for i := range patterns {
		b := make([]byte, 5+rng.IntN(30))
		for j := range b {
			b[j] = "BBBgg.x=_"[rng.IntN(9)]
		}
		patterns[i] = string(b)
		evs = append(evs, patternEvents(fmt.Sprint("r", i), patterns[i])...)
	}
	insertEvents(t, ctx, conn, evs)
	rule := warehouse.PageRule
	for i, p := range patterns {
		space := fmt.Sprint("r", i)
		if got, want := timeline(warehouse.Transitions(alertState(t, conn, space, p, rule, warehouse.Watermark{}))), timeline(modelTimeline(minutes(p), rule)); got != want {
			t.Fatalf("%s %q: alert_state %q, model %q", space, p, got, want)
		}
		// A watermark k minutes in: minutes ending after it minus the lateness are incomplete.
		k := rng.IntN(len(p) + 2)
		wm := warehouse.Watermark{Known: true, At: t0.Add(time.Duration(k)*time.Minute + rule.Lateness)}
		ms := alertState(t, conn, space, p, rule, wm)
		done := min(k, len(p))
		for j, m := range ms {
			if m.Complete != (j < done) {
				t.Fatalf("%s %q, watermark at minute %d: minute %d complete = %v", space, p, k, j, m.Complete)
			}
			if !m.Complete && (m.State != "incomplete" || (j > 0 && m.Firing != ms[j-1].Firing) || (j == 0 && m.Firing)) {
				t.Fatalf("%s %q, watermark at minute %d: incomplete minute %d is %+v", space, p, k, j, m)
			}
		}
		if got, want := timeline(warehouse.Transitions(ms)), timeline(modelTimeline(minutes(p[:done]), rule)); got != want {
			t.Fatalf("%s %q, watermark at minute %d: alert_state %q, model on the complete minutes %q", space, p, k, got, want)
		}
	}
}

// patternEvents is the events of minutes(pattern) in space: joins and join errors spread over
// each minute.
func patternEvents(space, pattern string) []event {
	var evs []event
	for i, b := range minutes(pattern) {
		for a := range b.Attempts {
			e := event{ID: uuid.New(), Session: uuid.New(), Space: space, User: fmt.Sprintf("u%d-%d", i, a),
				Role: "listener", JoinMs: -1, Kind: "join",
				TsMs: b.Start.Add(time.Duration(a) * time.Minute / time.Duration(b.Attempts)).UnixMilli()}
			switch {
			case a < b.TechnicalFailures:
				e.Kind, e.Phase, e.Code = "error", "join", technicalCodes[a%int64(len(technicalCodes))]
			case a < b.TechnicalFailures+b.BusinessFailures:
				e.Kind, e.Phase, e.Code = "error", "join", businessCodes[a%int64(len(businessCodes))]
			}
			evs = append(evs, e)
		}
	}
	return evs
}

// alertState runs warehouse.AlertState over the minutes of pattern from t0.
func alertState(t *testing.T, conn warehouse.Querier, space, pattern string, rule warehouse.AlertRule, wm warehouse.Watermark) []warehouse.AlertMinute {
	t.Helper()
	to := t0.Add(time.Duration(len(pattern))*time.Minute - time.Second)
	ms, err := warehouse.AlertState(testContext(t), conn, space, t0, to, rule, wm)
	if err != nil {
		t.Fatalf("AlertState(%s): %v", space, err)
	}
	if len(ms) != len(pattern) {
		t.Fatalf("AlertState(%s): %d minutes, want %d", space, len(ms), len(pattern))
	}
	return ms
}

func TestAlertTransitionFiring(t *testing.T) {
	a := warehouse.AlertTransition{FiredAt: t0.Add(2 * time.Minute), ClearedAt: t0.Add(5 * time.Minute)}
	open := warehouse.AlertTransition{FiredAt: t0.Add(2 * time.Minute)}
	f := func(a warehouse.AlertTransition, at time.Duration, want bool) {
		t.Helper()
		if got := a.Firing(t0.Add(at)); got != want {
			t.Fatalf("%+v.Firing(t0+%s) = %v, want %v", a, at, got, want)
		}
	}
	f(a, time.Minute, false)
	f(a, 2*time.Minute, true)
	f(a, 5*time.Minute-time.Second, true)
	f(a, 5*time.Minute, false)
	f(open, time.Hour, true)
	f(open, 0, false)
}

// TestAlertStateFromClickHouse runs the rule (alert_state.sql and the model) on FailureRate over a night with a known failure
// window: technical failures in minutes 2-5 (minute 4 quiet), recovery in 6, a short relapse in 8,
// and a room end (space_ended only) in 10-12. Events are delivered twice in part, as at least once
// delivery does.
func TestAlertStateFromClickHouse(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	type minute struct{ attempts, technical, business int }
	night := []minute{
		{40, 1, 0},  // 0 good (2.5 %)
		{40, 2, 1},  // 1 good (5 % exactly)
		{40, 30, 0}, // 2 bad
		{60, 50, 0}, // 3 bad: fires at the end, t0+4m
		{10, 10, 0}, // 4 no data: keeps firing
		{40, 20, 0}, // 5 bad
		{40, 0, 0},  // 6 good: clears at t0+7m
		{40, 0, 0},  // 7 good
		{40, 8, 0},  // 8 bad: one minute only
		{40, 1, 0},  // 9 good
		{40, 0, 40}, // 10 the room ended: business errors only
		{80, 0, 80}, // 11
		{30, 0, 30}, // 12
	}
	var evs []event
	for m, spec := range night {
		for i := range spec.attempts {
			e := event{ID: uuid.New(), Session: uuid.New(), Space: "room", User: fmt.Sprintf("u%d-%d", m, i),
				Role: "listener", JoinMs: -1, Kind: "join",
				TsMs: t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second/2).UnixMilli()}
			switch {
			case i < spec.technical:
				e.Kind, e.Phase, e.Code = "error", "join", technicalCodes[i%len(technicalCodes)]
			case i < spec.technical+spec.business:
				e.Kind, e.Phase, e.Code = "error", "join", businessCodes[i%len(businessCodes)]
			}
			evs = append(evs, e)
		}
	}
	insertEvents(t, ctx, conn, evs)
	insertEvents(t, ctx, conn, evs[len(evs)/3:len(evs)/2]) // redelivered

	buckets, err := warehouse.FailureRate(ctx, conn, "room", t0, t0.Add(13*time.Minute-time.Second))
	if err != nil {
		t.Fatalf("FailureRate: %v", err)
	}
	if len(buckets) != len(night) || buckets[3].Attempts != 60 || buckets[3].TechnicalFailures != 50 {
		t.Fatalf("FailureRate: %d buckets (minute 3: %+v), want %d and 60 attempts, 50 failures", len(buckets), buckets[3], len(night))
	}
	if got, want := timeline(modelTimeline(buckets, warehouse.PageRule)), "4-7"; got != want {
		t.Fatalf("AlertTimeline = %q, want %q (fires at t0+4m, clears at t0+7m, nothing after the room ends)", got, want)
	}
	// The same night cut off inside the failure window is still firing at its end.
	buckets, err = warehouse.FailureRate(ctx, conn, "room", t0, t0.Add(5*time.Minute+30*time.Second))
	if err != nil {
		t.Fatalf("FailureRate: %v", err)
	}
	if got, want := timeline(modelTimeline(buckets, warehouse.PageRule)), "4-"; got != want {
		t.Fatalf("AlertTimeline to t0+5m30s = %q, want %q", got, want)
	}
	// alert_state.sql over the same data, the room over and cut off (minute 5 is incomplete then).
	for _, c := range []struct {
		to   time.Duration
		want string
	}{{13*time.Minute - time.Second, "4-7"}, {5*time.Minute + 30*time.Second, "4-"}} {
		ms, err := warehouse.AlertState(ctx, conn, "room", t0, t0.Add(c.to), warehouse.PageRule, warehouse.Watermark{})
		if err != nil {
			t.Fatalf("AlertState: %v", err)
		}
		if got := timeline(warehouse.Transitions(ms)); got != c.want {
			t.Fatalf("AlertState to t0+%s = %q, want %q", c.to, got, c.want)
		}
	}
}

// modelTimeline is the paging rule written as a loop, the model alert_state.sql is checked against: it evaluates rule over buckets, per-minute FailureBuckets in time order (as
// FailureRate returns them), and returns each firing in order. Buckets are one minute long; a
// gap between two buckets' Start counts as minutes with no data. Pure: no clock, no I/O.
func modelTimeline(buckets []warehouse.FailureBucket, rule warehouse.AlertRule) []warehouse.AlertTransition {
	need := max(rule.For, 1)
	var (
		out     []warehouse.AlertTransition
		bad     int  // consecutive bad minutes so far, while not firing
		firing  bool // an element of out is open
		prevEnd time.Time
	)
	for _, b := range buckets {
		start := b.Start.UTC()
		if !prevEnd.IsZero() && start.After(prevEnd) {
			bad = 0 // missing minutes are no data
		}
		end := start.Add(time.Minute)
		prevEnd = end
		if b.Attempts < rule.MinAttempts || b.Attempts <= 0 {
			bad = 0 // no data: breaks a pending run, keeps a firing alert firing
			continue
		}
		isBad := float64(b.TechnicalFailures)/float64(b.Attempts) > rule.Threshold
		switch {
		case firing && !isBad:
			out[len(out)-1].ClearedAt = end
			firing = false
		case !firing && isBad:
			if bad++; bad >= need {
				out = append(out, warehouse.AlertTransition{FiredAt: end})
				firing, bad = true, 0
			}
		case !firing:
			bad = 0
		}
	}
	return out
}
