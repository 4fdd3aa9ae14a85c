package scenario

import (
	"math"
	"slices"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

// step simulates second s into g.buf, sorted by event time.
func (g *Generator) step(s int64) {
	lo := s * 1000
	t := g.sc.Start + time.Duration(s)*time.Second
	for i := range g.rooms {
		g.stepRoom(i, lo, t)
	}
	for g.queue.len() > 0 && g.queue.min().due < lo+1000 {
		q := g.queue.pop()
		g.rooms[q.room].retries++
		g.attempt(int(q.room), q.due, q.user, q.attrs, q.attempt)
	}
	for i := range g.rooms {
		rs := &g.rooms[i]
		rs.ema += (float64(rs.retries) - rs.ema) / 30
		rs.retries = 0
		for _, l := range rs.pending {
			rs.live.add(l)
		}
		rs.pending = rs.pending[:0]
	}
	g.sortSecond(lo)
}

// sortSecond orders g.buf (all in the second at lo) by ts, keeping the
// generation order within a millisecond: a counting sort by millisecond.
func (g *Generator) sortSecond(lo int64) {
	var count [1001]int32
	for i := range g.buf {
		count[g.buf[i].ts-lo+1]++
	}
	for i := 1; i <= 1000; i++ {
		count[i] += count[i-1]
	}
	g.tmp = slices.Grow(g.tmp[:0], len(g.buf))[:len(g.buf)]
	for i := range g.buf {
		ms := g.buf[i].ts - lo
		g.tmp[count[ms]] = g.buf[i]
		count[ms]++
	}
	g.buf, g.tmp = g.tmp, g.buf
}

// stepRoom simulates room i for the second at lo (offset t from T0): the
// room end, crashes, hazard leaves and the first tries of new users.
func (g *Generator) stepRoom(i int, lo int64, t time.Duration) {
	rs := &g.rooms[i]
	r := rs.r
	switch {
	case t < r.Open:
		return
	case t >= r.End:
		if n := rs.live.len(); n > 0 {
			left := int64((r.End + r.Drain - t + time.Second - 1) / time.Second)
			k := n
			if left > 1 {
				k = int((int64(n) + left - 1) / left)
			}
			g.leaves(i, k, lo, uint8(schemas.ReasonEnded), 0, nil)
		}
	default:
		for _, c := range r.Crashes {
			if c.At >= t && c.At < t+time.Second {
				g.crash(i, c, lo)
			}
		}
	}
	p := phaseAt(r, t)
	if p < 0 {
		return
	}
	ph := &r.Phases[p]
	f := float64(t-ph.From) / float64(ph.To-ph.From)
	if t < r.End {
		if h := lerp(ph.LeaveHazard, f); h > 0 && rs.live.len() > 0 {
			k := g.sim.poisson(float64(rs.live.len()) * h / 60)
			for range k {
				reason := uint8(schemas.ReasonUser)
				if g.sim.float() < g.sc.LeaveNetworkShare {
					reason = uint8(schemas.ReasonNetwork)
				}
				g.leaves(i, 1, lo, reason, ph.Rejoin, ph.RejoinDelay)
			}
		}
	}
	lambda := lerp(ph.Attempts, f)/60*g.opt.Scale - rs.ema
	if b := ph.Burst; b != nil && t >= ph.From+b.At && t < ph.From+b.At+max(b.Over, time.Second) {
		lambda += b.Attempts * g.opt.Scale / max(b.Over.Seconds(), 1)
	}
	for range g.sim.poisson(lambda) {
		user := g.newUser(rs)
		g.attempt(i, lo+int64(g.sim.intn(1000)), user, g.userAttrs(user), 0)
	}
}

// newUser returns a user making a first try in room rs: a listener of
// another room (Returning) or a new user.
func (g *Generator) newUser(rs *roomState) uint32 {
	var u uint32
	if rs.from >= 0 && g.sim.float() < rs.r.Returning.Share && len(g.rooms[rs.from].users) > 0 {
		from := g.rooms[rs.from].users
		u = from[g.sim.intn(len(from))]
	} else {
		u = g.users
		g.users++
	}
	return u
}

// userAttrs derives a user's client, country and cohort from the user
// number, so a user keeps them across rooms.
func (g *Generator) userAttrs(u uint32) uint16 {
	h := mix(uint64(u) ^ g.opt.Seed<<32 ^ 0x5ca1ab1e)
	client := pick(g.clientCum, float64(h>>40)/(1<<24))
	country := pick(g.countryCum, float64(h>>16&0xffffff)/(1<<24))
	a := uint16(client) | uint16(country)<<4
	if float64(h&0xffff)/(1<<16) >= g.sc.Retry.BackoffShare {
		a |= attrManual
	}
	return a
}

// attempt simulates one join attempt of user at ts (ms) in room i.
func (g *Generator) attempt(i int, ts int64, user uint32, attrs uint16, attempt uint8) {
	rs := &g.rooms[i]
	r := rs.r
	g.seq++
	rc := rec{ts: ts, seq: g.seq, user: user, attrs: attrs, room: uint8(i), attempt: attempt}
	t := g.sc.Start + time.Duration(ts)*time.Millisecond
	if t >= r.End || t < r.Open {
		rc.kind, rc.code = recError, g.closedCode
		g.emit(rc)
		return
	}
	p := phaseAt(r, t)
	fail, median := 0.0, 600.0
	if p >= 0 {
		ph := &r.Phases[p]
		f := float64(t-ph.From) / float64(ph.To-ph.From)
		fail = lerp(ph.Failure, f) + rs.clientF[p][attrs&0xf]
		if m := lerp(ph.JoinMS, f); m > 0 {
			median = m
		}
	}
	if g.sim.float() >= fail {
		rc.kind = recJoin
		rc.aux = int32(min(median*math.Exp(0.6*g.sim.normal()), 120_000))
		g.emit(rc)
		rs.pending = append(rs.pending, live{seq: g.seq, user: user, join: uint32(ts), attrs: attrs})
		if rs.keep {
			rs.users = append(rs.users, user) // a listener another room may see again
		}
		return
	}
	rc.kind = recError
	rc.code = rs.codesIdx[p][pick(rs.codesCum[p], g.sim.float())]
	g.emit(rc)
	rt := &g.sc.Retry
	n := int(attempt) + 1 // failures so far
	giveUp := rt.GiveUpAfter
	if n == 1 {
		giveUp = rt.GiveUp
	}
	if n >= rt.MaxAttempts || g.sim.float() < giveUp {
		return
	}
	var d int64
	if attrs&attrManual != 0 {
		d = g.sim.between(rt.Manual[0].Milliseconds(), rt.Manual[1].Milliseconds())
	} else {
		d = min(rt.Cap, rt.Base<<n).Milliseconds()
		if rt.Jitter && !g.opt.NoJitter {
			d = g.sim.between(0, d)
		}
	}
	g.queue.push(retry{due: ts + d, user: user, attrs: attrs, room: uint8(i), attempt: attempt + 1})
}

// leaves ends k random live sessions of room i during the second at lo; a
// share rejoin of them try again after U(delay[0], delay[1]).
func (g *Generator) leaves(i, k int, lo int64, reason uint8, rejoin float64, delay []time.Duration) {
	rs := &g.rooms[i]
	for range min(k, rs.live.len()) {
		l := rs.live.take(g.sim.intn(rs.live.len()))
		ts := lo + int64(g.sim.intn(1000))
		g.emit(rec{ts: ts, seq: l.seq, user: l.user, attrs: l.attrs, room: uint8(i),
			kind: recLeave, reason: reason, aux: int32(ts - int64(l.join))})
		if rejoin > 0 && g.sim.float() < rejoin {
			d := g.sim.between(delay[0].Milliseconds(), delay[1].Milliseconds())
			g.queue.push(retry{due: ts + d, user: l.user, attrs: l.attrs, room: uint8(i)})
		}
	}
}

// crash drops c.Drop of room i's sessions (reason error); c.Rejoin of them
// try again after c.Delay.
func (g *Generator) crash(i int, c Crash, lo int64) {
	rs := &g.rooms[i]
	k := int(math.Round(float64(rs.live.len()) * c.Drop))
	for range k {
		l := rs.live.take(g.sim.intn(rs.live.len()))
		ts := lo + int64(g.sim.intn(1000))
		g.emit(rec{ts: ts, seq: l.seq, user: l.user, attrs: l.attrs, room: uint8(i),
			kind: recLeave, reason: uint8(schemas.ReasonError), aux: int32(ts - int64(l.join))})
		if g.sim.float() < c.Rejoin {
			d := g.sim.between(c.Delay[0].Milliseconds(), c.Delay[1].Milliseconds())
			g.queue.push(retry{due: ts + d, user: l.user, attrs: l.attrs, room: uint8(i)})
		}
	}
}

func (g *Generator) emit(r rec) {
	r.order = g.order
	g.order++
	g.buf = append(g.buf, r)
}

// phaseAt returns the index of the phase of r holding offset t, or -1.
func phaseAt(r *Room, t time.Duration) int {
	for i := range r.Phases {
		if t >= r.Phases[i].From && t < r.Phases[i].To {
			return i
		}
	}
	return -1
}
