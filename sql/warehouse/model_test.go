package warehouse_test

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// model computes every figure by brute force from the events as they were meant to arrive:
// once each, straight from the metric definitions, with none of the SQL's tricks.
type model struct {
	evs []event // one per event_id
}

func newModel(batches ...[]event) model {
	seen := make(map[uuid.UUID]bool)
	var m model
	for _, b := range batches {
		for _, e := range b {
			if !seen[e.ID] {
				seen[e.ID] = true
				m.evs = append(m.evs, e)
			}
		}
	}
	return m
}

func isBusiness(code string) bool { return slices.Contains(businessCodes, code) }

func isAttempt(e event) bool { return e.Kind == "join" || (e.Kind == "error" && e.Phase == "join") }

// in reports whether e is in space and its second is in [from, to].
func in(e event, space string, from, to int64) bool {
	return e.Space == space && e.sec() >= from && e.sec() <= to
}

// ccl is joins - leaves with ts <= t.
func (m model) ccl(space string, t int64) int64 {
	var n int64
	for _, e := range m.evs {
		if e.Space != space || e.sec() > t {
			continue
		}
		switch e.Kind {
		case "join":
			n++
		case "leave":
			n--
		}
	}
	return n
}

func (m model) concurrency(space string, from, to int64) []warehouse.Point {
	var out []warehouse.Point
	for t := from; t <= to; t++ {
		out = append(out, warehouse.Point{Time: time.Unix(t, 0).UTC(), Listeners: m.ccl(space, t)})
	}
	return out
}

func (m model) peak(space string, from, to int64) warehouse.Point {
	curve := m.concurrency(space, from, to)
	best := curve[0]
	for _, p := range curve[1:] {
		if p.Listeners > best.Listeners {
			best = p
		}
	}
	return best
}

func (m model) failureRate(space string, from, to, step int64) []warehouse.FailureBucket {
	var out []warehouse.FailureBucket
	for b := from / step * step; b <= to; b += step {
		lo, hi := max(b, from), min(b+step-1, to)
		fb := warehouse.FailureBucket{Start: time.Unix(b, 0).UTC()}
		for _, e := range m.evs {
			if !in(e, space, lo, hi) || !isAttempt(e) {
				continue
			}
			fb.Attempts++
			if e.Kind == "error" {
				if isBusiness(e.Code) {
					fb.BusinessFailures++
				} else {
					fb.TechnicalFailures++
				}
			}
		}
		if fb.Attempts >= warehouse.MinAttempts {
			r := float64(fb.TechnicalFailures) / float64(fb.Attempts)
			fb.Rate = &r
		}
		out = append(out, fb)
	}
	return out
}

func ratio(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

func (m model) summary(space string, from, to int64) warehouse.SpaceSummary {
	s := warehouse.SpaceSummary{
		Space: space, From: time.Unix(from, 0).UTC(), To: time.Unix(to, 0).UTC(),
		Peak:            m.peak(space, from, to),
		ListenersBefore: m.ccl(space, from-1),
		ListenersAfter:  m.ccl(space, to),
	}
	attempted, joined := map[string]bool{}, map[string]bool{}
	var latencies []int64
	type span struct {
		join, leave int64
		hasJoin     bool
		hasLeave    bool
	}
	sessions := map[uuid.UUID]*span{}
	for _, e := range m.evs {
		if e.Space != space {
			continue
		}
		if e.Kind == "join" || e.Kind == "leave" {
			sp := sessions[e.Session]
			if sp == nil {
				sp = &span{}
				sessions[e.Session] = sp
			}
			if e.Kind == "join" && e.sec() <= to {
				sp.join, sp.hasJoin = e.sec(), true
			}
			if e.Kind == "leave" && e.sec() <= to {
				sp.leave, sp.hasLeave = e.sec(), true
			}
		}
		if !in(e, space, from, to) {
			continue
		}
		switch {
		case e.Kind == "join":
			s.Joins++
			if e.JoinMs >= 0 {
				latencies = append(latencies, e.JoinMs)
			}
		case e.Kind == "leave":
			s.Leaves++
			if e.Reason == "network" || e.Reason == "error" {
				s.MidSessionDrops++
			}
		case e.Phase == "join" && isBusiness(e.Code):
			s.BusinessJoinFailures++
		case e.Phase == "join":
			s.JoinFailures++
		default:
			s.SessionErrors++
		}
		if isAttempt(e) {
			attempted[e.User] = true
			if e.Kind == "join" {
				joined[e.User] = true
			}
		}
	}
	s.JoinAttempts = s.Joins + s.JoinFailures + s.BusinessJoinFailures
	if s.JoinAttempts >= warehouse.MinAttempts {
		s.JoinFailureRate = ratio(s.JoinFailures, s.JoinAttempts)
	}
	s.UsersAttempting = int64(len(attempted))
	s.UniqueListeners = int64(len(joined))
	s.UsersFailed = s.UsersAttempting - s.UniqueListeners
	if s.JoinAttempts >= warehouse.MinAttempts {
		s.PerUserFailureRate = ratio(s.UsersFailed, s.UsersAttempting)
	}
	s.RetryAmplification = ratio(s.JoinAttempts, s.UsersAttempting)

	slices.Sort(latencies)
	s.JoinLatencySamples = int64(len(latencies))
	if n := len(latencies); n > 0 {
		q := func(level float64) *int64 { v := warehouse.NearestRank(latencies, level); return &v }
		s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99 = q(0.5), q(0.95), q(0.99)
	}

	for _, sp := range sessions {
		if !sp.hasJoin {
			continue
		}
		end := to + 1
		if sp.hasLeave {
			end = sp.leave
		}
		if overlap := min(end, to+1) - max(sp.join, from); overlap > 0 {
			s.ListeningSeconds += overlap
			s.SessionsListening++
		}
	}
	if s.ListeningSeconds > 0 {
		r := float64(s.MidSessionDrops) * 1000 / (float64(s.ListeningSeconds) / 60)
		s.DropsPer1000ListenerMinutes = &r
	}
	return s
}

// breakdown is FailuresBy for whole minutes overlapping [from, to].
func (m model) breakdown(space string, from, to int64, dim string) map[string]warehouse.Breakdown {
	out := map[string]warehouse.Breakdown{}
	for _, e := range m.evs {
		if !in(e, space, from/60*60, to/60*60+59) {
			continue
		}
		v := map[string]string{"code": e.Code, "client": e.Client, "app_version": e.AppVersion,
			"region": e.Region, "country": e.Country}[dim]
		b := out[v]
		b.Value = v
		switch {
		case e.Kind == "join":
			b.Joins++
		case e.Kind == "error" && e.Phase == "join" && isBusiness(e.Code):
			b.BusinessFailures++
		case e.Kind == "error" && e.Phase == "join":
			b.TechnicalFailures++
		case e.Kind == "error":
			b.SessionErrors++
		}
		if isAttempt(e) {
			b.Attempts++
		}
		out[v] = b
	}
	for v, b := range out {
		if b.Attempts >= warehouse.MinAttempts {
			b.FailureRate = ratio(b.TechnicalFailures, b.Attempts)
		}
		out[v] = b
	}
	return out
}
