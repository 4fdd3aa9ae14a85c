package scenario

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
)

// bruteInterval recomputes an Interval from events with maps, knowing
// nothing of the generator.
type bruteInterval struct {
	attempts, joins, tech, business int64
	byCode                          map[string]int64
	users, listeners                map[string]bool
}

func newBrute() *bruteInterval {
	return &bruteInterval{byCode: map[string]int64{}, users: map[string]bool{}, listeners: map[string]bool{}}
}

func (b *bruteInterval) add(ev *schemas.Event) {
	if ev.Kind == schemas.KindLeave || ev.Phase != schemas.PhaseJoin && ev.Kind == schemas.KindError {
		return
	}
	b.attempts++
	b.users[ev.UserID] = true
	if ev.Kind == schemas.KindJoin {
		b.joins++
		b.listeners[ev.UserID] = true
		return
	}
	b.byCode[ev.Code]++
	if schemas.IsBusinessCode(ev.Code) {
		b.business++
	} else {
		b.tech++
	}
}

func (b *bruteInterval) failed() int64 {
	var n int64
	for u := range b.users {
		if !b.listeners[u] {
			n++
		}
	}
	return n
}

func (b *bruteInterval) check(t *testing.T, what string, in Interval) {
	t.Helper()
	got := []int64{in.Attempts, in.Joins, in.Technical, in.Business, in.Users, in.Listeners, in.UsersFailed}
	want := []int64{b.attempts, b.joins, b.tech, b.business, int64(len(b.users)), int64(len(b.listeners)), b.failed()}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: truth attempts, joins, technical, business, users, listeners, failed users = %v, brute force %v", what, got, want)
	}
	if len(b.byCode) > 0 || len(in.ByCode) > 0 {
		if !reflect.DeepEqual(b.byCode, in.ByCode) {
			t.Fatalf("%s: failures by code %v, brute force %v", what, in.ByCode, b.byCode)
		}
	}
	if b.attempts > 0 && math.Abs(in.PerAttemptFailure-float64(b.tech)/float64(b.attempts)) > 1e-12 {
		t.Fatalf("%s: per-attempt failure %v", what, in.PerAttemptFailure)
	}
	if len(b.users) > 0 {
		if math.Abs(in.PerUserFailure-float64(b.failed())/float64(len(b.users))) > 1e-12 ||
			math.Abs(in.Amplification-float64(b.attempts)/float64(len(b.users))) > 1e-12 {
			t.Fatalf("%s: per-user failure %v, amplification %v", what, in.PerUserFailure, in.Amplification)
		}
	}
}

func TestTruthEqualsBruteForce(t *testing.T) {
	f := func(name string, opt Options) {
		t.Helper()
		evs, tr, sc := generate(t, name, opt)
		// Round-trip the truth file: what the demo reads is what we check.
		var buf bytes.Buffer
		if err := tr.Write(&buf); err != nil {
			t.Fatal(err)
		}
		tr, err := ReadTruth(&buf)
		if err != nil {
			t.Fatal(err)
		}
		// Each event once (the transport duplicated some), in event time.
		seen := map[uuid.UUID]bool{}
		var uniq []schemas.Event
		for _, d := range evs {
			if !seen[d.ev.EventID] {
				seen[d.ev.EventID] = true
				uniq = append(uniq, d.ev)
			}
		}
		sortByTime(uniq)
		start := sc.T0.Add(sc.Start)
		nsec := int((sc.End - sc.Start) / time.Second)
		users, listeners := map[string]bool{}, map[string]bool{}
		var counts Counts
		for _, ev := range uniq {
			counts.Total++
			switch ev.Kind {
			case schemas.KindJoin:
				counts.Joins++
				listeners[ev.UserID] = true
				users[ev.UserID] = true
			case schemas.KindLeave:
				counts.Leaves++
			default:
				counts.Errors++
				users[ev.UserID] = true
			}
		}
		if counts != tr.Events || tr.Users != int64(len(users)) || tr.Listeners != int64(len(listeners)) {
			t.Fatalf("%s: truth counts %+v users %d listeners %d, brute force %+v %d %d",
				name, tr.Events, tr.Users, tr.Listeners, counts, len(users), len(listeners))
		}
		fromListeners := map[string]map[string]bool{}
		for ri, room := range sc.Rooms {
			rt := tr.Room(room.Name)
			delta := make([]int64, nsec)
			whole := newBrute()
			minutes := map[int]*bruteInterval{}
			phases := make([]*bruteInterval, len(room.Phases))
			for i := range phases {
				phases[i] = newBrute()
			}
			joined := map[uuid.UUID]int64{}
			var listening, leaves int64
			reasons := map[string]int64{}
			var joinMS []int64
			for _, ev := range uniq {
				if ev.SpaceID != room.SpaceID {
					continue
				}
				ts := ev.Time()
				sec := int(ts.Sub(start) / time.Second)
				switch ev.Kind {
				case schemas.KindJoin:
					delta[sec]++
					joined[ev.SessionID] = ev.TS
					joinMS = append(joinMS, ev.JoinMS)
				case schemas.KindLeave:
					delta[sec]--
					leaves++
					reasons[ev.Reason.String()]++
					listening += ev.TS - joined[ev.SessionID]
				}
				whole.add(&ev)
				m := int(ts.Sub(start) / time.Minute)
				if minutes[m] == nil {
					minutes[m] = newBrute()
				}
				minutes[m].add(&ev)
				for i, p := range room.Phases {
					if !ts.Before(sc.T0.Add(p.From)) && ts.Before(sc.T0.Add(p.To)) {
						phases[i].add(&ev)
					}
				}
			}
			var cur, peak int64
			var peakAt time.Time
			for s := range nsec {
				cur += delta[s]
				if rt.CCL.Values[s] != cur {
					t.Fatalf("%s room %s second %d: truth CCL %d, brute force %d", name, room.Name, s, rt.CCL.Values[s], cur)
				}
				if cur > peak {
					peak, peakAt = cur, start.Add(time.Duration(s)*time.Second)
				}
			}
			if len(rt.CCL.Values) != nsec || rt.Peak != peak || !rt.PeakAt.Equal(peakAt) {
				t.Fatalf("%s room %s: peak %d at %v over %d s, brute force %d at %v over %d s",
					name, room.Name, rt.Peak, rt.PeakAt, len(rt.CCL.Values), peak, peakAt, nsec)
			}
			whole.check(t, name+" room "+room.Name, rt.Interval)
			if rt.Leaves != leaves || rt.ListeningMS != listening || !reflect.DeepEqual(rt.LeavesByReason, reasons) {
				t.Fatalf("%s room %s: leaves %d %v listening %d, brute force %d %v %d",
					name, room.Name, rt.Leaves, rt.LeavesByReason, rt.ListeningMS, leaves, reasons, listening)
			}
			slices.Sort(joinMS)
			q := func(p float64) int64 {
				if len(joinMS) == 0 {
					return 0
				}
				return joinMS[int(math.Ceil(p*float64(len(joinMS))))-1]
			}
			if got, want := []int64{rt.JoinMSP50, rt.JoinMSP95, rt.JoinMSP99}, []int64{q(0.5), q(0.95), q(0.99)}; !slices.Equal(got, want) {
				t.Fatalf("%s room %s: join_ms p50/p95/p99 %v, brute force %v", name, room.Name, got, want)
			}
			for m := range rt.Minutes.Attempts {
				b := minutes[m]
				if b == nil {
					b = newBrute()
				}
				in := Interval{Attempts: rt.Minutes.Attempts[m], Joins: rt.Minutes.Joins[m],
					Technical: rt.Minutes.Technical[m], Business: rt.Minutes.Business[m],
					Users: rt.Minutes.Users[m], UsersFailed: rt.Minutes.UsersFailed[m],
					Listeners: rt.Minutes.Users[m] - rt.Minutes.UsersFailed[m], ByCode: map[string]int64{}}
				for code, col := range rt.Minutes.ByCode {
					if col[m] > 0 {
						in.ByCode[code] = col[m]
					}
				}
				if b.attempts > 0 {
					in.PerAttemptFailure = float64(b.tech) / float64(b.attempts)
					in.PerUserFailure = float64(b.failed()) / float64(len(b.users))
					in.Amplification = float64(b.attempts) / float64(len(b.users))
				}
				b.check(t, name+" room "+room.Name+" minute", in)
			}
			for i, p := range rt.PhaseTruth {
				phases[i].check(t, name+" room "+room.Name+" phase "+p.Name, p.Interval)
			}
			_ = ri
			if room.Returning != nil {
				var n int64
				for u := range whole.listeners {
					if fromListeners[room.Returning.From][u] {
						n++
					}
				}
				if rt.Returning != n || rt.ReturningFrom != room.Returning.From {
					t.Fatalf("%s room %s: %d listeners returning from %s, brute force %d", name, room.Name, rt.Returning, rt.ReturningFrom, n)
				}
			}
			fromListeners[room.Name] = whole.listeners
		}
	}
	f("trump-musk-2024", Options{Seed: 1, Scale: 0.01})
	f("trump-musk-2024", Options{Seed: 21, Scale: 0.003, NoJitter: true})
	f("desantis-2023", Options{Seed: 3, Scale: 0.01})
	f("stress-8m", Options{Seed: 4, Scale: 0.0005})
}
