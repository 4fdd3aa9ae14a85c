package warehouse_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// floorTo is the start of t's bucket of step seconds (aligned to the epoch).
func floorTo(t, step int64) int64 { return t / step * step }

// TestSeriesMatchBruteForce checks every series query of series.go against the model, before and
// after merges, with duplicates stored.
func TestSeriesMatchBruteForce(t *testing.T) {
	m, conn := loadScenario(t)
	ctx := testContext(t)
	const space = "1YqJDqWLyEMGV"
	from, to := t0.Unix()+17, t0.Unix()+17*60+33

	check := func(stage string) {
		f := func(name string, got, want any) {
			t.Helper()
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				t.Errorf("%s %s:\n got %.600s\nwant %.600s", stage, name, g, w)
			}
		}
		for _, step := range []int64{1, 7, 60, 300} {
			got, err := warehouse.ConcurrencyBuckets(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var want warehouse.ConcurrencySeries
			for _, p := range m.concurrency(space, from, to) {
				b := time.Unix(floorTo(p.Time.Unix(), step), 0).UTC()
				if n := len(want.Time); n > 0 && want.Time[n-1].Equal(b) {
					want.Peak[n-1] = max(want.Peak[n-1], p.Listeners)
					want.Last[n-1] = p.Listeners
					continue
				}
				want.Time, want.Peak, want.Last = append(want.Time, b), append(want.Peak, p.Listeners), append(want.Last, p.Listeners)
			}
			f(fmt.Sprintf("concurrency step %d", step), got, want)

			act, err := warehouse.Activity(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			wantAct := map[int64][5]int64{}
			for _, e := range m.evs {
				if !in(e, space, from, to) {
					continue
				}
				b := floorTo(e.sec(), step)
				c := wantAct[b]
				switch {
				case e.Kind == "join":
					c[0]++
				case e.Kind == "leave":
					c[1]++
				case e.Phase == "join" && isBusiness(e.Code):
					c[3]++
				case e.Phase == "join":
					c[2]++
				default:
					c[4]++
				}
				wantAct[b] = c
			}
			gotAct := map[int64][5]int64{}
			for i, tm := range act.Time {
				gotAct[tm.Unix()] = [5]int64{act.Joins[i], act.Leaves[i], act.TechnicalFailures[i], act.BusinessFailures[i], act.SessionErrors[i]}
			}
			f(fmt.Sprintf("activity step %d", step), gotAct, wantAct)

			users, err := warehouse.UserFailureRate(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			type ub struct{ attempting, failed, attempts int64 }
			type us struct{ joined bool }
			perUser := map[int64]map[string]us{}
			attempts := map[int64]int64{}
			for _, e := range m.evs {
				if !in(e, space, from, to) || !isAttempt(e) {
					continue
				}
				b := floorTo(e.sec(), step)
				if perUser[b] == nil {
					perUser[b] = map[string]us{}
				}
				u := perUser[b][e.User]
				u.joined = u.joined || e.Kind == "join"
				perUser[b][e.User] = u
				attempts[b]++
			}
			wantUsers := map[int64]string{}
			for b, byUser := range perUser {
				var x ub
				x.attempts = attempts[b]
				for _, u := range byUser {
					x.attempting++
					if !u.joined { // SCENARIOS: attempted, never joined, whatever the error
						x.failed++
					}
				}
				rate := "null"
				if x.attempts >= warehouse.MinAttempts {
					rate = fmt.Sprintf("%.12f", float64(x.failed)/float64(x.attempting))
				}
				wantUsers[b] = fmt.Sprint(x, rate)
			}
			gotUsers := map[int64]string{}
			for i, tm := range users.Time {
				rate := "null"
				if users.Rate[i] != nil {
					rate = fmt.Sprintf("%.12f", *users.Rate[i])
				}
				gotUsers[tm.Unix()] = fmt.Sprint(ub{users.Users[i], users.TechnicalFailures[i], users.Attempts[i]}, rate)
			}
			f(fmt.Sprintf("per-user failure rate step %d", step), gotUsers, wantUsers)

			for _, dim := range []string{"", "client", "country"} {
				lat, err := warehouse.JoinLatency(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second, dim)
				if err != nil {
					t.Fatal(err)
				}
				wantLat := m.latency(space, from, to, step, dim)
				f(fmt.Sprintf("join latency step %d by %q", step, dim), latencyOf(lat), wantLat)
			}
		}

		// Minute-rollup series: every minute overlapping the window counts whole.
		mFrom, mTo := floorTo(from, 60), floorTo(to, 60)+59
		for _, step := range []int64{60, 180} {
			for _, dim := range warehouse.Dimensions {
				got, err := warehouse.FailureRateBy(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second, dim)
				if err != nil {
					t.Fatal(err)
				}
				counts := map[string][3]int64{}
				for _, e := range m.evs {
					if !in(e, space, mFrom, mTo) || !isAttempt(e) {
						continue
					}
					k := fmt.Sprint(floorTo(e.sec(), step), "/", dimValue(e, dim))
					c := counts[k]
					c[0]++
					if e.Kind == "error" && isBusiness(e.Code) {
						c[2]++
					} else if e.Kind == "error" {
						c[1]++
					}
					counts[k] = c
				}
				want := map[string]string{}
				for k, c := range counts {
					want[k] = fmt.Sprint(c[0], c[1], fmtRate(ratioIf(c[1], c[0])))
				}
				gotM := map[string]string{}
				for i, tm := range got.Time {
					gotM[fmt.Sprint(tm.Unix(), "/", got.Value[i])] = fmt.Sprint(got.Attempts[i], got.TechnicalFailures[i], fmtRate(got.Rate[i]))
				}
				f(fmt.Sprintf("failure rate step %d by %s", step, dim), gotM, want)
			}
			for _, techOnly := range []bool{false, true} {
				got, err := warehouse.ErrorsByCode(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second, techOnly)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int64{}
				for _, e := range m.evs {
					if !in(e, space, mFrom, mTo) || e.Kind != "error" || e.Phase != "join" || (techOnly && isBusiness(e.Code)) {
						continue
					}
					want[fmt.Sprint(floorTo(e.sec(), step), "/", e.Code, "/", !isBusiness(e.Code))]++
				}
				gotM := map[string]int64{}
				for i, tm := range got.Time {
					gotM[fmt.Sprint(tm.Unix(), "/", got.Code[i], "/", got.Technical[i])] = got.Errors[i]
				}
				f(fmt.Sprintf("errors by code step %d technical only %v", step, techOnly), gotM, want)
			}
		}

		for _, dim := range warehouse.Dimensions {
			got, err := warehouse.DimensionValues(ctx, conn, space, time.Unix(from, 0), time.Unix(to, 0), dim, 1000)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, e := range m.evs {
				if in(e, space, mFrom, mTo) && dimValue(e, dim) != "" {
					seen[dimValue(e, dim)] = true
				}
			}
			slices.Sort(got)
			f("values of "+dim, got, slices.Sorted(maps.Keys(seen)))
		}
		spaces, err := warehouse.SpacesIn(ctx, conn, t0.Add(-time.Hour), t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range spaces {
			ids = append(ids, s.Space)
		}
		if want := []string{space, "other-space"}; !slices.Equal(ids, want) && !slices.Equal(ids, []string{"other-space", space}) {
			t.Errorf("%s spaces in window: got %v", stage, ids)
		}
	}
	check("unmerged")
	mergeAll(t, conn)
	check("merged")
}

func ratioIf(num, den int64) *float64 {
	if den < warehouse.MinAttempts {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}

func dimValue(e event, dim string) string {
	switch dim {
	case "code":
		return e.Code
	case "client":
		return e.Client
	case "app_version":
		return e.AppVersion
	case "region":
		return e.Region
	case "country":
		return e.Country
	}
	return ""
}

// TestSeriesRefuse checks the arguments the series functions refuse before reaching the server.
func TestSeriesRefuse(t *testing.T) {
	from, to := t0, t0.Add(time.Hour)
	f := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	_, err := warehouse.FailureRateBy(t.Context(), nil, "s", from, to, time.Minute, "user_id")
	f("dimension user_id", err)
	_, err = warehouse.FailureRateBy(t.Context(), nil, "s", from, to, 90*time.Second, "code")
	f("step 90s on the minute rollup", err)
	_, err = warehouse.JoinLatency(t.Context(), nil, "s", from, to, time.Minute, "code")
	f("latency by code", err)
	_, err = warehouse.ConcurrencyBuckets(t.Context(), nil, "s", to, from, time.Second)
	f("reversed window", err)
	_, err = warehouse.DimensionValues(t.Context(), nil, "s", from, to, "client'--", 10)
	f("dimension injection", err)
}

// latency is JoinLatency by brute force: "bucket/value" to "samples p50 p95 p99" (nearest rank).
func (m model) latency(space string, from, to, step int64, dim string) map[string]string {
	samples := map[string][]int64{}
	for _, e := range m.evs {
		if !in(e, space, from, to) || e.Kind != "join" || e.JoinMs < 0 {
			continue
		}
		k := fmt.Sprint(floorTo(e.sec(), step), "/", dimValue(e, dim))
		samples[k] = append(samples[k], e.JoinMs)
	}
	out := map[string]string{}
	for k, s := range samples {
		slices.Sort(s)
		out[k] = fmt.Sprint(len(s), warehouse.NearestRank(s, 0.5), warehouse.NearestRank(s, 0.95), warehouse.NearestRank(s, 0.99))
	}
	return out
}

// latencyOf is a LatencySeries in the form of model.latency.
func latencyOf(s warehouse.LatencySeries) map[string]string {
	out := map[string]string{}
	for i, tm := range s.Time {
		out[fmt.Sprint(tm.Unix(), "/", s.Value[i])] = fmt.Sprint(s.Samples[i], s.P50[i], s.P95[i], s.P99[i])
	}
	return out
}
