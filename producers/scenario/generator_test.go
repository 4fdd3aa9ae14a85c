package scenario

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
)

type delivered struct {
	ev schemas.Event
	at time.Duration
}

func generate(t *testing.T, name string, opt Options) ([]delivered, *Truth, *Scenario) {
	t.Helper()
	sc, err := Load(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	g := NewGenerator(sc, opt)
	var out []delivered
	for {
		var d delivered
		at, ok := g.Next(&d.ev)
		if !ok {
			break
		}
		d.at = at
		out = append(out, d)
	}
	return out, g.Truth(), sc
}

func TestEventsValidOrderedAndPaired(t *testing.T) {
	f := func(name string, opt Options) {
		t.Helper()
		evs, tr, sc := generate(t, name, opt)
		if len(evs) < 1000 {
			t.Fatalf("%s: only %d events", name, len(evs))
		}
		now := time.Now()
		start := sc.T0.Add(sc.Start).UnixMilli()
		var last time.Duration
		open := map[uuid.UUID]int64{}
		seen := map[uuid.UUID]schemas.Event{}
		dups := 0
		for i, d := range evs {
			ev := &d.ev
			if err := schemas.Validate(ev, now); err != nil {
				t.Fatalf("%s event %d invalid: %v (%+v)", name, i, err, ev)
			}
			if d.at < last {
				t.Fatalf("%s event %d delivered at %v before the previous one at %v", name, i, d.at, last)
			}
			last = d.at
			lag := d.at - time.Duration(ev.TS-start)*time.Millisecond
			if lag < 0 || lag > 10*time.Minute {
				t.Fatalf("%s event %d delivered %v after its event time: want 0-10m", name, i, lag)
			}
			if opt.NoTransport && lag != 0 {
				t.Fatalf("%s event %d: lag %v without transport", name, i, lag)
			}
			if prev, ok := seen[ev.EventID]; ok {
				if prev != *ev {
					t.Fatalf("%s: event id %s reused by a different event", name, ev.EventID)
				}
				dups++
				continue
			}
			seen[ev.EventID] = *ev
		}
		// Pairing in event-time order: every leave closes an open join.
		uniq := make([]schemas.Event, 0, len(seen))
		for _, ev := range seen {
			uniq = append(uniq, ev)
		}
		sortByTime(uniq)
		for _, ev := range uniq {
			switch ev.Kind {
			case schemas.KindJoin:
				if _, ok := open[ev.SessionID]; ok {
					t.Fatalf("%s: session %s joined twice", name, ev.SessionID)
				}
				open[ev.SessionID] = ev.TS
			case schemas.KindLeave:
				if _, ok := open[ev.SessionID]; !ok {
					t.Fatalf("%s: leave of session %s that is not open", name, ev.SessionID)
				}
				delete(open, ev.SessionID)
			}
		}
		if len(open) != 0 {
			t.Fatalf("%s: %d sessions never left (every room ends)", name, len(open))
		}
		if int64(dups) != tr.Duplicates || int64(len(evs)) != tr.Delivered || int64(len(uniq)) != tr.Events.Total {
			t.Fatalf("%s: %d delivered, %d unique, %d duplicates; truth says %d, %d, %d",
				name, len(evs), len(uniq), dups, tr.Delivered, tr.Events.Total, tr.Duplicates)
		}
		if !opt.NoTransport && (dups == 0 || float64(dups)/float64(len(uniq)) > 0.01) {
			t.Fatalf("%s: %d duplicates of %d events: want about 0.5 %%", name, dups, len(uniq))
		}
	}
	f("trump-musk-2024", Options{Seed: 1, Scale: 0.01})
	f("trump-musk-2024", Options{Seed: 2, Scale: 0.005, NoTransport: true})
	f("desantis-2023", Options{Seed: 3, Scale: 0.01})
	f("stress-8m", Options{Seed: 4, Scale: 0.001})
}

// sortByTime orders events as the generator emits them: by ts, joins of a
// ms before leaves are irrelevant because a session never joins and leaves
// in one second.
func sortByTime(evs []schemas.Event) {
	slices.SortStableFunc(evs, func(a, b schemas.Event) int {
		switch {
		case a.TS < b.TS:
			return -1
		case a.TS > b.TS:
			return 1
		}
		return 0
	})
}

func TestDeterministic(t *testing.T) {
	f := func(name string, opt Options) {
		t.Helper()
		a, ta, _ := generate(t, name, opt)
		b, tb, _ := generate(t, name, opt)
		if len(a) != len(b) {
			t.Fatalf("%s: %d then %d events for one seed", name, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: event %d differs for one seed: %+v vs %+v", name, i, a[i], b[i])
			}
		}
		if ta.Rooms[0].Peak != tb.Rooms[0].Peak || ta.Events != tb.Events {
			t.Fatalf("%s: truth differs for one seed", name)
		}
		opt.Seed++
		c, _, _ := generate(t, name, opt)
		if len(c) > 0 && c[0].ev.EventID == a[0].ev.EventID {
			t.Fatalf("%s: another seed gave the same first event id", name)
		}
	}
	f("trump-musk-2024", Options{Seed: 11, Scale: 0.005})
	f("desantis-2023", Options{Seed: 12, Scale: 0.005, NoJitter: true})
}

// perSecondAttempts counts join attempts per second of event time.
func perSecondAttempts(evs []delivered, from, to time.Time) []float64 {
	seen := map[uuid.UUID]bool{}
	n := make([]float64, int(to.Sub(from)/time.Second))
	for _, d := range evs {
		ev := &d.ev
		if seen[ev.EventID] || ev.Kind == schemas.KindLeave || ev.Kind == schemas.KindError && ev.Phase != schemas.PhaseJoin {
			continue
		}
		seen[ev.EventID] = true
		i := int(ev.Time().Sub(from) / time.Second)
		if ev.Time().Before(from) || i >= len(n) {
			continue
		}
		n[i]++
	}
	return n
}

func TestNoJitterSynchronizesRetries(t *testing.T) {
	// The 20:00 push brings a burst of first tries; 80 % fail. Without
	// jitter the backoff cohort retries them all at +2, +6, +14, +30, +62 s:
	// seconds far above their neighbours. With full jitter the retries of
	// the burst decay smoothly.
	spikes := func(noJitter bool) (worst float64, at []int) {
		evs, _, sc := generate(t, "trump-musk-2024", Options{Seed: 5, Scale: 0.1, NoJitter: noJitter, NoTransport: true})
		n := perSecondAttempts(evs, sc.T0, sc.T0.Add(100*time.Second))
		for i := 9; i < len(n)-5; i++ { // after the burst and the first retries
			local := slices.Clone(n[i-5 : i+6])
			slices.Sort(local)
			r := n[i] / local[len(local)/2]
			worst = max(worst, r)
			if r > 1.6 {
				at = append(at, i)
			}
		}
		return worst, at
	}
	jr, js := spikes(false)
	nr, ns := spikes(true)
	t.Logf("per-second attempts 20:00:09-20:01:35 over the median of their 11 s: max %.2f with jitter (spikes at %v s), %.2f without (spikes at %v s)", jr, js, nr, ns)
	if nr < 2 || len(ns) < 4 {
		t.Fatalf("no jitter: max %.2f, spikes at %v s: want synchronized retry spikes (at 6, 14, 30, 62 s)", nr, ns)
	}
	if jr > 1.5 || len(js) > 0 {
		t.Fatalf("jitter: max %.2f, spikes at %v s: want none", jr, js)
	}
}

func TestPerUserBelowPerAttempt(t *testing.T) {
	tr := runTruth(t, "trump-musk-2024", Options{Seed: 9, Scale: 0.1, NoTransport: true})
	sc, _ := Load("trump-musk-2024")
	r := tr.Room("main")
	m := r.Minutes
	fw0 := int((0 - sc.Start) / time.Minute)
	for i := range m.Attempts {
		at := sc.T0.Add(sc.Start + time.Duration(i)*time.Minute)
		if !at.Before(sc.T0.Add(sc.Rooms[0].End)) || m.Attempts[i] < 25 {
			continue // after the room ended, per-user counts the business errors
		}
		perAttempt := float64(m.Technical[i]) / float64(m.Attempts[i])
		perUser := float64(m.UsersFailed[i]) / float64(m.Users[i])
		if i >= fw0 && i < fw0+30 && perAttempt < 0.75 {
			t.Fatalf("minute %s: per-attempt failure %.3f: want >= 75 %% in the failure window", sc.ClockTime(at.Sub(sc.T0)), perAttempt)
		}
		// Where failures matter (over the 5 % paging line) users who retry
		// get in, so per-user is strictly lower; at 1-2 % few retry within
		// the minute and the two are about equal.
		if perAttempt >= 0.05 && perUser >= perAttempt || perUser > perAttempt+0.005 {
			t.Fatalf("minute %s: per-user failure %.3f, per-attempt %.3f", sc.ClockTime(at.Sub(sc.T0)), perUser, perAttempt)
		}
	}
	for _, p := range r.PhaseTruth {
		if p.Technical > 0 && p.PerUserFailure >= p.PerAttemptFailure {
			t.Fatalf("phase %s: per-user %.3f >= per-attempt %.3f", p.Name, p.PerUserFailure, p.PerAttemptFailure)
		}
	}
	fw := r.PhaseTruth[2]
	if fw.Name != "failure window" || math.Abs(fw.Amplification-2.7) > 0.2 {
		t.Fatalf("phase %s: retry amplification %.2f: want ~2.7 (the scenario's retry model)", fw.Name, fw.Amplification)
	}
}

// TestPagingShape checks what the alert rule will see: in DeSantis room A
// the failure rate crosses 5 % at 18:00 (so the alert fires within 2-3
// minutes) and stays at 40-60 %; after a room ends every failed attempt is
// a business error (space_ended), so nothing can page.
func TestPagingShape(t *testing.T) {
	f := func(name, room, from, to string, lo, hi float64) {
		t.Helper()
		tr := runTruth(t, name, Options{Seed: 4, Scale: 0.1, NoTransport: true})
		sc, _ := Load(name)
		r := tr.Room(room)
		a, _ := sc.At(from)
		b, _ := sc.At(to)
		for m := range r.Minutes.Attempts {
			off := sc.Start + time.Duration(m)*time.Minute
			if off < a || off >= b || r.Minutes.Attempts[m] < 25 {
				continue
			}
			rate := float64(r.Minutes.Technical[m]) / float64(r.Minutes.Attempts[m])
			if rate < lo || rate > hi {
				t.Fatalf("%s room %s minute %s: technical failure %.3f, want %.2f-%.2f", name, room, sc.ClockTime(off), rate, lo, hi)
			}
		}
		for _, rm := range sc.Rooms {
			rt := tr.Room(rm.Name)
			for m := range rt.Minutes.Attempts {
				if sc.Start+time.Duration(m)*time.Minute >= rm.End && rt.Minutes.Technical[m] != 0 {
					t.Fatalf("%s room %s minute %d after the room ended: %d technical failures, want only business ones",
						name, rm.Name, m, rt.Minutes.Technical[m])
				}
			}
		}
	}
	f("desantis-2023", "A", "17:55", "18:00", 0, 0.05)
	f("desantis-2023", "A", "18:00", "18:20", 0.40, 0.62)
	f("trump-musk-2024", "main", "20:00", "20:30", 0.75, 0.85)
}
