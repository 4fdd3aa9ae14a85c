package scenario

import (
	"math"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

// runTruth generates a whole run without keeping the events and returns its
// truth: the CCL curve is computed in a streaming fashion.
func runTruth(t testing.TB, name string, opt Options) *Truth {
	t.Helper()
	sc, err := Load(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	g := NewGenerator(sc, opt)
	var ev schemas.Event
	for {
		if _, ok := g.Next(&ev); !ok {
			break
		}
	}
	return g.Truth()
}

// checkAnchors runs a scenario at scale and checks the anchors of its YAML
// against the simulated CCL scaled back to full scale.
func checkAnchors(t *testing.T, name string, scale float64) (*Truth, *Scenario) {
	t.Helper()
	tr := runTruth(t, name, Options{Seed: 7, Scale: scale, NoTransport: true})
	sc, _ := Load(name)
	if len(sc.Anchors) == 0 {
		t.Fatalf("%s has no anchors", name)
	}
	for _, a := range sc.Anchors {
		r := tr.Room(a.Room)
		from, _ := sc.At(a.Clock)
		lo, hi := a.Band()
		if a.Until != "" {
			until, _ := sc.At(a.Until)
			low := math.Inf(1)
			for d := from; d <= until; d += time.Second {
				low = min(low, float64(r.CCLAt(sc.T0.Add(d)))/scale)
			}
			t.Logf("%s room %s %s-%s: lowest simulated %.0f, press >= %.0f (%s)", name, a.Room, a.Clock, a.Until, low, a.CCL, a.Source)
			if low < lo {
				t.Errorf("%s room %s %s-%s: CCL fell to %.0f, want >= %.0f (-10 %%)", name, a.Room, a.Clock, a.Until, low, lo)
			}
			continue
		}
		got := float64(r.CCLAt(sc.T0.Add(from))) / scale
		what := "at " + a.Clock
		if a.Peak {
			got, what = float64(r.Peak)/scale, "peak (at "+sc.ClockTime(r.PeakAt.Sub(sc.T0))+")"
		}
		t.Logf("%s room %s %s: simulated %.0f, press %.0f-%.0f (%s)", name, a.Room, what, got, a.CCL, max(a.CCL, a.CCLMax), a.Source)
		if got < lo || got > hi {
			t.Errorf("%s room %s %s: CCL %.0f outside %.0f-%.0f (%s)", name, a.Room, what, got, lo, hi, a.Source)
		}
	}
	return tr, sc
}

func TestTrumpMuskAnchors(t *testing.T) {
	const scale = 1.0
	tr, sc := checkAnchors(t, "trump-musk-2024", scale)
	r := tr.Room("main")
	end, _ := sc.At("22:49")
	if got := r.CCLAt(sc.T0.Add(end)); got != 0 {
		t.Fatalf("CCL %d after the room ended: want 0", got)
	}
	for _, p := range r.PhaseTruth {
		t.Logf("phase %-15s attempts/min %8.0f  tech %5.1f%%  per-user %5.1f%%  ampl %.2f  users %8.0f  ccl %8.0f -> %8.0f",
			p.Name, float64(p.Attempts)/scale/p.To.Sub(p.From).Minutes(), 100*p.PerAttemptFailure, 100*p.PerUserFailure,
			p.Amplification, float64(p.Users)/scale, float64(p.CCLStart)/scale, float64(p.CCLEnd)/scale)
	}
}

func TestDeSantisAnchors(t *testing.T) {
	const scale = 1.0
	tr, _ := checkAnchors(t, "desantis-2023", scale)
	a, b := tr.Room("A"), tr.Room("B")

	for _, c := range []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"room A sessions per listener", a.SessionsPerListener, 1.3, 10},
		{"share of room A's listeners reaching room B", b.ReturningShareFrom, 0.24 * 0.9, 0.24 * 1.1},
	} {
		t.Logf("%s: %.2f", c.what, c.got)
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s %.2f: want %.2f-%.2f", c.what, c.got, c.lo, c.hi)
		}
	}
	for _, r := range []*RoomTruth{a, b} {
		for _, p := range r.PhaseTruth {
			t.Logf("room %s phase %-12s tech %5.1f%%  per-user %5.1f%%  ampl %.2f  ccl %8.0f -> %8.0f peak %8.0f",
				r.Name, p.Name, 100*p.PerAttemptFailure, 100*p.PerUserFailure, p.Amplification,
				float64(p.CCLStart)/scale, float64(p.CCLEnd)/scale, float64(p.Peak)/scale)
		}
	}
}

func TestStressShape(t *testing.T) {
	const scale = 0.05
	tr, sc := checkAnchors(t, "stress-8m", scale)
	r := tr.Room("stress")
	at := func(d time.Duration) float64 { return float64(r.CCLAt(sc.T0.Add(d))) / scale }
	t.Logf("stress-8m: %.0f at 5m, %.0f at 10m, peak %.0f at +%v, %.0f at 39m59s, %d events at scale %g",
		at(5*time.Minute), at(10*time.Minute), float64(r.Peak)/scale, r.PeakAt.Sub(sc.T0), at(40*time.Minute-time.Second), tr.Events.Total, scale)
	if got := at(10*time.Minute - time.Second); got < 8e6*0.9 || got > 8e6*1.1 {
		t.Fatalf("stress-8m at 10 min: %.0f, want 8M ±10%%", got)
	}
	for d := 10 * time.Minute; d < 40*time.Minute; d += time.Second {
		if got := at(d); got < 8e6*0.9 {
			t.Fatalf("stress-8m at %v: %.0f, want >= 7.2M held until 40 min", d, got)
		}
	}
	if got := at(43 * time.Minute); got != 0 {
		t.Fatalf("stress-8m at 43 min: %.0f, want everyone gone", got)
	}
	// ~13k joins a second with bursts several times that.
	perSec := float64(r.Minutes.Joins[7]) / 60 / scale
	var burst float64
	for i := 1; i < 600; i++ {
		burst = max(burst, float64(r.CCL.Values[i]-r.CCL.Values[i-1])/scale)
	}
	t.Logf("stress-8m: %.0f joins/s in minute 8, %.0f net joins in the busiest second", perSec, burst)
	if perSec < 10_000 || perSec > 16_000 || burst < 3*perSec {
		t.Fatalf("stress-8m: %.0f joins/s in minute 8, %.0f in the busiest second: want ~13k and bursts several times that", perSec, burst)
	}
}
