package warehouse_test

import (
	"fmt"
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

func TestAlertTimeline(t *testing.T) {
	f := func(pattern, want string) {
		t.Helper()
		if got := timeline(warehouse.AlertTimeline(minutes(pattern), warehouse.PageRule)); got != want {
			t.Fatalf("AlertTimeline(%q) = %q, want %q", pattern, got, want)
		}
	}
	f("", "")
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
		t.Helper()
		if got := timeline(warehouse.AlertTimeline(minutes(pattern), rule)); got != want {
			t.Fatalf("AlertTimeline(%q, %+v) = %q, want %q", pattern, rule, got, want)
		}
	}
	g(warehouse.AlertRule{Threshold: 0.05, For: 1, MinAttempts: 25}, "gBg", "2-3")
	g(warehouse.AlertRule{Threshold: 0.05, For: 0, MinAttempts: 25}, "gBg", "2-3") // For < 1 is 1
	g(warehouse.AlertRule{Threshold: 0.05, For: 3, MinAttempts: 25}, "BBgBBBg", "6-7")
	g(warehouse.AlertRule{Threshold: 0.25, For: 2, MinAttempts: 25}, "BBBB", "")   // 20 % is not over 25 %
	g(warehouse.AlertRule{Threshold: 0.04, For: 2, MinAttempts: 25}, "====", "2-") // 5 % is over 4 %
	g(warehouse.AlertRule{Threshold: 0.05, For: 2, MinAttempts: 20}, "..", "2-")   // 24 attempts are data now
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

// TestAlertTimelineFromClickHouse runs the rule on FailureRate over a night with a known failure
// window: technical failures in minutes 2-5 (minute 4 quiet), recovery in 6, a short relapse in 8,
// and a room end (space_ended only) in 10-12. Events are delivered twice in part, as at least once
// delivery does.
func TestAlertTimelineFromClickHouse(t *testing.T) {
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
	if got, want := timeline(warehouse.AlertTimeline(buckets, warehouse.PageRule)), "4-7"; got != want {
		t.Fatalf("AlertTimeline = %q, want %q (fires at t0+4m, clears at t0+7m, nothing after the room ends)", got, want)
	}
	// The same night cut off inside the failure window is still firing at its end.
	buckets, err = warehouse.FailureRate(ctx, conn, "room", t0, t0.Add(5*time.Minute+30*time.Second))
	if err != nil {
		t.Fatalf("FailureRate: %v", err)
	}
	if got, want := timeline(warehouse.AlertTimeline(buckets, warehouse.PageRule)), "4-"; got != want {
		t.Fatalf("AlertTimeline to t0+5m30s = %q, want %q", got, want)
	}
}
