package scenario

import (
	"math"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

// truthAcc accumulates the Truth while records are emitted in event-time
// order. Distinct users per interval use stamps indexed by user number
// (minute+1 as uint16, phase+1 as uint8, room as bits): 6 bytes and 2 bits
// per user and room, so 8M users cost ~50 MB.
type truthAcc struct {
	g          *Generator
	counts     Counts
	delivered  int64
	duplicates int64
	users      bitset
	listeners  bitset
	business   []bool // by code index
	rooms      []roomAcc
	nmin       int
}

type intervalAcc struct {
	attempts, joins, tech, business, users, listeners int64
	byCode                                            []int64
}

type roomAcc struct {
	delta     []int64 // per second: joins − leaves
	room      intervalAcc
	phases    []intervalAcc
	min       []intervalAcc
	stamps    stampSet
	roomAtt   bitset
	roomJoin  bitset
	reasons   [6]int64
	leaves    int64
	listening int64
	joinHist  []int64
	curSec    int64
	curPhase  int
}

type bitset []uint64

// set sets bit i and reports whether it was clear.
func (b *bitset) set(i uint32) bool {
	w := int(i >> 6)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b)+len(*b)/2)...)
	}
	m := uint64(1) << (i & 63)
	if (*b)[w]&m != 0 {
		return false
	}
	(*b)[w] |= m
	return true
}

func newTruthAcc(g *Generator) *truthAcc {
	a := &truthAcc{g: g, nmin: int((g.nsec + 59) / 60)}
	for _, c := range g.codes {
		a.business = append(a.business, schemas.IsBusinessCode(c))
	}
	a.rooms = make([]roomAcc, len(g.rooms))
	for i := range a.rooms {
		ra := &a.rooms[i]
		ra.delta = make([]int64, g.nsec)
		ra.room.byCode = make([]int64, len(g.codes))
		ra.phases = make([]intervalAcc, len(g.sc.Rooms[i].Phases))
		for j := range ra.phases {
			ra.phases[j].byCode = make([]int64, len(g.codes))
		}
		ra.min = make([]intervalAcc, a.nmin)
		for j := range ra.min {
			ra.min[j].byCode = make([]int64, len(g.codes))
		}
		ra.joinHist = make([]int64, 120_001)
		ra.curSec = -1
	}
	return a
}

func (a *truthAcc) observe(r *rec) {
	a.counts.Total++
	ra := &a.rooms[r.room]
	sec := r.ts / 1000
	if sec != ra.curSec {
		ra.curSec = sec
		ra.curPhase = phaseAt(&a.g.sc.Rooms[r.room], a.g.sc.Start+time.Duration(sec)*time.Second)
	}
	switch r.kind {
	case recLeave:
		a.counts.Leaves++
		ra.delta[sec]--
		ra.leaves++
		ra.reasons[r.reason]++
		ra.listening += int64(r.aux)
		return
	case recJoin:
		a.counts.Joins++
		ra.delta[sec]++
	case recError:
		a.counts.Errors++
	}
	u := r.user
	m := int(r.ts / 60000)
	mi := &ra.min[m]
	var ph *intervalAcc
	if ra.curPhase >= 0 {
		ph = &ra.phases[ra.curPhase]
	}
	ra.room.attempts++
	mi.attempts++
	st := ra.stamps.at(u)
	if st.minAtt != uint16(m+1) {
		st.minAtt = uint16(m + 1)
		mi.users++
	}
	if ra.roomAtt.set(u) {
		ra.room.users++
	}
	a.users.set(u)
	if ph != nil {
		ph.attempts++
		if st.phAtt != uint8(ra.curPhase+1) {
			st.phAtt = uint8(ra.curPhase + 1)
			ph.users++
		}
	}
	if r.kind == recJoin {
		ra.room.joins++
		mi.joins++
		ra.joinHist[r.aux]++
		if st.minJoin != uint16(m+1) {
			st.minJoin = uint16(m + 1)
			mi.listeners++
		}
		if ra.roomJoin.set(u) {
			ra.room.listeners++
		}
		a.listeners.set(u)
		if ph != nil {
			ph.joins++
			if st.phJoin != uint8(ra.curPhase+1) {
				st.phJoin = uint8(ra.curPhase + 1)
				ph.listeners++
			}
		}
		return
	}
	for _, in := range [...]*intervalAcc{&ra.room, mi, ph} {
		if in == nil {
			continue
		}
		in.byCode[r.code]++
		if a.business[r.code] {
			in.business++
		} else {
			in.tech++
		}
	}
}

func (a *truthAcc) interval(in *intervalAcc) Interval {
	out := Interval{
		Attempts: in.attempts, Joins: in.joins, Technical: in.tech, Business: in.business,
		Users: in.users, Listeners: in.listeners, UsersFailed: in.users - in.listeners,
		ByCode: map[string]int64{},
	}
	for c, n := range in.byCode {
		if n > 0 {
			out.ByCode[a.g.codes[c]] = n
		}
	}
	if in.attempts > 0 {
		out.PerAttemptFailure = float64(in.tech) / float64(in.attempts)
	}
	if in.users > 0 {
		out.PerUserFailure = float64(out.UsersFailed) / float64(in.users)
		out.Amplification = float64(in.attempts) / float64(in.users)
	}
	return out
}

func (a *truthAcc) result() *Truth {
	g := a.g
	start := g.Start()
	t := &Truth{
		Scenario: g.sc.Name, Seed: g.opt.Seed, Scale: g.opt.Scale, Jitter: g.sc.Retry.Jitter && !g.opt.NoJitter,
		Start: start, End: start.Add(g.Duration()), Events: a.counts,
		Delivered: a.counts.Total + a.duplicates, Duplicates: a.duplicates,
	}
	if g.opt.NoTransport {
		t.Delivered = a.counts.Total
	}
	for _, w := range a.users {
		t.Users += int64(popcount(w))
	}
	for _, w := range a.listeners {
		t.Listeners += int64(popcount(w))
	}
	for i := range a.rooms {
		ra := &a.rooms[i]
		r := &g.sc.Rooms[i]
		rt := RoomTruth{Name: r.Name, SpaceID: r.SpaceID, Interval: a.interval(&ra.room),
			Leaves: ra.leaves, ListeningMS: ra.listening, LeavesByReason: map[string]int64{}}
		ccl := make([]int64, len(ra.delta))
		var cur int64
		for s, d := range ra.delta {
			cur += d
			ccl[s] = cur
			if cur > rt.Peak {
				rt.Peak, rt.PeakAt = cur, start.Add(time.Duration(s)*time.Second)
			}
		}
		rt.CCL = Series{Start: start, StepS: 1, Values: ccl}
		for reason, n := range ra.reasons {
			if n > 0 {
				rt.LeavesByReason[schemas.Reason(reason).String()] = n
			}
		}
		rt.JoinMSP50, rt.JoinMSP95, rt.JoinMSP99 = quantile(ra.joinHist, rt.Joins, 0.50), quantile(ra.joinHist, rt.Joins, 0.95), quantile(ra.joinHist, rt.Joins, 0.99)
		if rt.Listeners > 0 {
			rt.SessionsPerListener = float64(rt.Joins) / float64(rt.Listeners)
		}
		mt := Minutes{Start: start, ByCode: map[string][]int64{}}
		for m := range ra.min {
			mi := &ra.min[m]
			mt.Attempts = append(mt.Attempts, mi.attempts)
			mt.Joins = append(mt.Joins, mi.joins)
			mt.Technical = append(mt.Technical, mi.tech)
			mt.Business = append(mt.Business, mi.business)
			mt.Users = append(mt.Users, mi.users)
			mt.UsersFailed = append(mt.UsersFailed, mi.users-mi.listeners)
		}
		for c, code := range g.codes {
			var col []int64
			var any bool
			for m := range ra.min {
				col = append(col, ra.min[m].byCode[c])
				any = any || ra.min[m].byCode[c] > 0
			}
			if any {
				mt.ByCode[code] = col
			}
		}
		rt.Minutes = mt
		if rr := r.Returning; rr != nil {
			from := &a.rooms[g.rooms[i].from]
			rt.ReturningFrom = rr.From
			for w := range min(len(ra.roomJoin), len(from.roomJoin)) {
				rt.Returning += int64(popcount(ra.roomJoin[w] & from.roomJoin[w]))
			}
			if from.room.listeners > 0 {
				rt.ReturningShareFrom = float64(rt.Returning) / float64(from.room.listeners)
			}
		}
		for j, p := range r.Phases {
			pt := PhaseTruth{Name: p.Name, From: g.sc.T0.Add(p.From), To: g.sc.T0.Add(p.To), Interval: a.interval(&ra.phases[j])}
			lo := int((p.From - g.sc.Start) / time.Second)
			hi := int((p.To - g.sc.Start) / time.Second)
			at := func(s int) int64 {
				if s < 0 || len(ccl) == 0 {
					return 0
				}
				return ccl[min(s, len(ccl)-1)]
			}
			pt.CCLStart, pt.CCLEnd = at(lo-1), at(hi-1)
			for s := max(lo, 0); s < min(hi, len(ccl)); s++ {
				pt.Peak = max(pt.Peak, ccl[s])
			}
			rt.PhaseTruth = append(rt.PhaseTruth, pt)
		}
		t.Rooms = append(t.Rooms, rt)
	}
	return t
}

// quantile is the nearest-rank q-quantile of n values in a histogram.
func quantile(hist []int64, n int64, q float64) int64 {
	if n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var cum int64
	for v, c := range hist {
		cum += c
		if cum >= rank {
			return int64(v)
		}
	}
	return int64(len(hist) - 1)
}
