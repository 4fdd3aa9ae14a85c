package e2e

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// t0 is the start of the replayed failure window (the Trump-Musk night, 20:00 ET).
var t0 = time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)

// minute is one replayed minute of room-a: join attempts, of which technical and business
// join errors (the rest succeed).
type minute struct{ attempts, technical, business int }

// replay is room-a's failure window. With the page (technical rate > 5 % in 2 consecutive
// complete minutes, each with >= 25 attempts) evaluations in minutes 4, 5, 12 and 13 fire:
// minutes 2-4 and 10-11 are over 5 % (fired after 3, kept by 4, cleared by 5), 6-7 are 100 % but
// under 25 attempts (no data), 8-9 fail only with business errors (space_ended: good minutes),
// 12 has no events (no data: still firing at 13).
var replay = []minute{
	{100, 1, 0}, {100, 2, 0}, {100, 60, 0}, {100, 80, 0}, {100, 10, 0}, {100, 3, 0},
	{20, 20, 0}, {20, 20, 0}, {100, 0, 100}, {100, 0, 100}, {30, 3, 0}, {30, 2, 0},
}

// alertFiresAt are the minutes (from t0) whose evaluation fires.
var alertFiresAt = []int{4, 5, 12, 13}

var (
	technicalCodes = []string{"details_not_available", "space_not_available", "timeout", "server_error", "rate_limited"}
	businessCodes  = schemas.BusinessCodes()
	clients        = []string{"ios", "android", "web"}
	regions        = []string{"us-east-1", "eu-west-1"}
	countries      = []string{"US", "GB", "JP", "CA"}
)

// scenario is room-a's replay plus room-b, a smaller room that started before t0 (so a window
// from t0 has a baseline) and whose listeners leave during the window.
func scenario() []event {
	var evs []event
	ids := uint64(0)
	id := func() uuid.UUID {
		ids++
		var u uuid.UUID
		copy(u[:], fmt.Sprintf("%016d", ids))
		return u
	}
	end := t0.Add(time.Duration(len(replay)) * time.Minute)
	for m, spec := range replay {
		for i := range spec.attempts {
			ts := t0.Add(time.Duration(m)*time.Minute + time.Duration(i*60/spec.attempts)*time.Second)
			j := (i * 37) % spec.attempts // outcome order mixed against time order
			e := event{
				id: id(), ts: ts, space: "room-a", session: id(),
				user:   fmt.Sprintf("u%d-%d", m, i/2), // two attempts per user
				client: clients[i%3], region: regions[i%2], country: countries[i%4], joinMs: -1,
			}
			switch {
			case j < spec.technical:
				e.kind, e.phase, e.code = "error", "join", technicalCodes[j%len(technicalCodes)]
			case j < spec.technical+spec.business:
				e.kind, e.phase, e.code = "error", "join", businessCodes[j%len(businessCodes)]
			default:
				e.kind, e.joinMs = "join", int64(100+(i*131)%900)
				if i%3 == 0 {
					leave := e
					leave.id, leave.kind, leave.joinMs = id(), "leave", -1
					leave.ts = ts.Add(time.Duration(20+i%150) * time.Second)
					leave.reason = []string{"user", "network"}[i%2]
					if leave.ts.Before(end) {
						evs = append(evs, leave)
					}
				}
			}
			evs = append(evs, e)
		}
		// One session error a minute: not an attempt.
		evs = append(evs, event{id: id(), kind: "error", phase: "session", code: "media", ts: t0.Add(time.Duration(m)*time.Minute + 30*time.Second),
			space: "room-a", session: id(), user: "s", client: "ios", joinMs: -1})
	}
	for i := range 60 {
		join := event{id: id(), kind: "join", ts: t0.Add(time.Duration(i*5-120) * time.Second), space: "room-b",
			session: id(), user: fmt.Sprintf("b%d", i), client: "web", region: "eu-west-1", country: "GB", joinMs: 250}
		evs = append(evs, join)
		if i%2 == 0 {
			leave := join
			leave.id, leave.kind, leave.joinMs, leave.reason = id(), "leave", -1, "user"
			leave.ts = join.ts.Add(time.Duration(90+i*3) * time.Second)
			evs = append(evs, leave)
		}
	}
	return evs
}

// model computes every figure by brute force from the events.
type model struct{ evs []event }

func (m model) ccl(space string, t time.Time) int64 {
	var n int64
	for _, e := range m.evs {
		if e.space == space && !e.ts.After(t) {
			switch e.kind {
			case "join":
				n++
			case "leave":
				n--
			}
		}
	}
	return n
}

// concurrency is CCL per bucket of step over [from, to]: peak or last of the seconds inside.
func (m model) concurrency(space string, from, to time.Time, step time.Duration, last bool) ([]time.Time, []int64) {
	var ts []time.Time
	var vs []int64
	for t := from; !t.After(to); t = t.Add(time.Second) {
		b := epochFloor(t, step)
		v := m.ccl(space, t)
		if n := len(ts); n > 0 && ts[n-1].Equal(b) {
			if last || v > vs[n-1] {
				vs[n-1] = v
			}
			continue
		}
		ts, vs = append(ts, b), append(vs, v)
	}
	return ts, vs
}

type rateBucket struct {
	attempts, technical, business int64
	users, usersFailed            int64
}

// buckets counts attempts per bucket of step in [from, to], keyed by the bucket start and the
// value of dim ("" for none).
func (m model) buckets(space string, from, to time.Time, step time.Duration, dim string) map[string]*rateBucket {
	out := map[string]*rateBucket{}
	type u struct{ joined bool }
	users := map[string]map[string]*u{}
	for _, e := range m.evs {
		if e.space != space || e.ts.Before(from) || e.ts.After(to) || !e.attempt() {
			continue
		}
		k := fmt.Sprint(epochFloor(e.ts, step).Unix(), "/", dimOf(e, dim))
		b := out[k]
		if b == nil {
			b = &rateBucket{}
			out[k] = b
			users[k] = map[string]*u{}
		}
		b.attempts++
		if e.kind == "error" && business(e.code) {
			b.business++
		} else if e.kind == "error" {
			b.technical++
		}
		x := users[k][e.user]
		if x == nil {
			x = &u{}
			users[k][e.user] = x
		}
		x.joined = x.joined || e.kind == "join"
	}
	for k, us := range users {
		for _, x := range us {
			out[k].users++
			if !x.joined { // SCENARIOS: a user who attempted and never joined, whatever the error
				out[k].usersFailed++
			}
		}
	}
	return out
}

func dimOf(e event, dim string) string {
	switch dim {
	case "client":
		return e.client
	case "region":
		return e.region
	case "country":
		return e.country
	case "code":
		return e.code
	}
	return ""
}

// latency is the exact percentiles of join_ms per bucket, nearest rank (the ceil(level * n)-th
// smallest, as sql/queries/join_latency.sql defines them).
func (m model) latency(space string, from, to time.Time, step time.Duration) map[int64][3]float64 {
	samples := map[int64][]int64{}
	for _, e := range m.evs {
		if e.space == space && e.kind == "join" && e.joinMs >= 0 && !e.ts.Before(from) && !e.ts.After(to) {
			b := epochFloor(e.ts, step).Unix()
			samples[b] = append(samples[b], e.joinMs)
		}
	}
	out := map[int64][3]float64{}
	for b, s := range samples {
		slices.Sort(s)
		q := func(l float64) float64 { return float64(warehouse.NearestRank(s, l)) }
		out[b] = [3]float64{q(0.5), q(0.95), q(0.99)}
	}
	return out
}

// epochFloor is the start of t's bucket of step, buckets aligned to the Unix epoch as the queries
// align them (time.Truncate aligns to year 1).
func epochFloor(t time.Time, step time.Duration) time.Time {
	s := int64(step / time.Second)
	return time.Unix(t.Unix()/s*s, 0).UTC()
}
