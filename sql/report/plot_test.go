package report

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// night is a made-up report shaped like the trump-musk-2024 scenario (T0 = 00:00Z = 20:00 ET),
// with its phases.
func night() (*Report, []Phase) {
	t0 := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	at := func(etMinutes float64) time.Time { return t0.Add(time.Duration(etMinutes * float64(time.Minute))) }
	type knot struct{ min, ccl, attempts, fail float64 }
	// minutes from 20:00 ET
	knots := []knot{{-13, 0, 8e3, .02}, {-5, 45e3, 15e3, .10}, {0, 100e3, 60e3, .60}, {1, 110e3, 140e3, .80},
		{30, 700e3, 150e3, .80}, {31, 705e3, 60e3, .50}, {42, 950e3, 40e3, .10}, {50, 1.05e6, 30e3, .05},
		{100, 1.3e6, 12e3, .02}, {150, 1.2e6, 10e3, .015}, {167, 1.05e6, 6e3, .01}, {169, 0, 5e3, 0}, {210, 0, 0, 0}}
	interp := func(m float64) knot {
		for i := 1; i < len(knots); i++ {
			a, b := knots[i-1], knots[i]
			if m <= b.min {
				f := (m - a.min) / (b.min - a.min)
				return knot{m, a.ccl + f*(b.ccl-a.ccl), a.attempts + f*(b.attempts-a.attempts), a.fail + f*(b.fail-a.fail)}
			}
		}
		return knots[len(knots)-1]
	}
	r := &Report{Rule: warehouse.PageRule}
	from, to := at(-13), at(210)
	for t := from; !t.After(to); t = t.Add(time.Second) {
		m := t.Sub(t0).Minutes()
		wobble := 1 + 0.01*math.Sin(m*1.7)
		r.Concurrency = append(r.Concurrency, warehouse.Point{Time: t, Listeners: int64(interp(m).ccl * wobble)})
	}
	for t := from; !t.After(to); t = t.Add(time.Minute) {
		k := interp(t.Sub(t0).Minutes())
		b := warehouse.FailureBucket{Start: t, Attempts: int64(k.attempts), TechnicalFailures: int64(k.attempts * k.fail)}
		if t.After(at(169)) { // the room ended: space_ended, business
			b.BusinessFailures, b.TechnicalFailures = b.Attempts, 0
		}
		if t.Equal(at(60)) { // a blip, one bad minute only: no page
			b.TechnicalFailures = b.Attempts / 10
		}
		r.FailureRate = append(r.FailureRate, b)
	}
	// What alert_state.sql gives for these minutes (sql/warehouse tests the rule itself).
	r.Alerts = []warehouse.AlertTransition{{FiredAt: at(-7), ClearedAt: at(51)}}
	peak := r.Concurrency[0]
	for _, p := range r.Concurrency {
		if p.Listeners > peak.Listeners {
			peak = p
		}
	}
	rate := 0.44
	r.Summary = warehouse.SpaceSummary{Space: "1YqJDqWLyEMGV", From: from, To: to, Peak: peak, JoinAttempts: 5_912_345, JoinFailureRate: &rate}
	phases := []Phase{{"pre-show", at(-13), at(-5)}, {"herd", at(-5), at(0)}, {"failure window", at(0), at(30)},
		{"silence", at(30), at(42)}, {"start burst", at(42), at(50)}, {"ramp", at(50), at(100)},
		{"plateau", at(100), at(150)}, {"tail", at(150), at(167)}, {"room end", at(167), at(169)}, {"after", at(169), at(210)}}
	return r, phases
}

// savePlot keeps a copy of a rendered plot in $SPACEPULSE_PLOT_DIR, to look at.
func savePlot(t *testing.T, name string, data []byte) {
	if dir := os.Getenv("SPACEPULSE_PLOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatalf("save plot: %v", err)
		}
	}
}

// checkPNG decodes data as a PNG of w x h that is not blank: enough pixels neither white nor
// near-white, and several colours.
func checkPNG(t *testing.T, data []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, w, h) {
		t.Fatalf("png is %v, want %dx%d", got, w, h)
	}
	inked, colours := 0, map[[3]uint32]bool{}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 12, g >> 12, b >> 12}] = true
			if r < 0xd000 || g < 0xd000 || b < 0xd000 {
				inked++
			}
		}
	}
	if inked < w*h/50 || len(colours) < 8 {
		t.Fatalf("png looks blank: %d of %d pixels inked, %d colours", inked, w*h, len(colours))
	}
}

func TestPlotPNG(t *testing.T) {
	r, phases := night()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	f := func(name string, opts PlotOptions, w, h int) {
		t.Helper()
		var out bytes.Buffer
		if err := r.Plot(&out, opts); err != nil {
			t.Fatalf("Plot(%s): %v", name, err)
		}
		savePlot(t, name, out.Bytes())
		checkPNG(t, out.Bytes(), w, h)
	}
	f("night-ny.png", PlotOptions{Location: ny, Phases: phases}, 1600, 1000)
	f("night-utc-small.png", PlotOptions{Format: FormatPNG, Width: 900, Height: 560}, 900, 560)
	f("night-big.png", PlotOptions{Width: 2400, Height: 1300, Phases: phases}, 2400, 1300)
}

func TestPlotSVG(t *testing.T) {
	r, phases := night()
	var out bytes.Buffer
	if err := r.Plot(&out, PlotOptions{Format: FormatSVG, Phases: phases}); err != nil {
		t.Fatalf("Plot svg: %v", err)
	}
	savePlot(t, "night.svg", out.Bytes())
	for _, want := range []string{"<svg", "failure window", "concurrent listeners", "</svg>"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("svg lacks %q", want)
		}
	}
}

func TestPlotErrors(t *testing.T) {
	r, _ := night()
	f := func(r *Report, opts PlotOptions, want string) {
		t.Helper()
		var out bytes.Buffer
		if err := r.Plot(&out, opts); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Plot(%+v) = %v, want an error with %q", opts, err, want)
		}
	}
	f(&Report{}, PlotOptions{}, "nothing to plot")
	f(r, PlotOptions{Format: "gif"}, `format "gif"`)
	f(r, PlotOptions{Width: 10, Height: 10}, "size 10x10")
}

func TestReadPhases(t *testing.T) {
	f := func(in string, want int, wantErr string) {
		t.Helper()
		got, err := ReadPhases(strings.NewReader(in))
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("ReadPhases(%s) = %v, want an error with %q", in, err, wantErr)
			}
			return
		}
		if err != nil || len(got) != want {
			t.Fatalf("ReadPhases(%s) = %v, %v; want %d phases", in, got, err, want)
		}
	}
	f(`[]`, 0, "")
	f(`[{"name":"herd","start":"2024-08-12T23:55:00Z","end":"2024-08-13T00:00:00Z"},
	    {"name":"failure window","start":"2024-08-12T20:00:00-04:00","end":"2024-08-12T20:30:00-04:00"}]`, 2, "")
	f(`[{"name":"herd","start":"2024-08-13T00:00:00Z","end":"2024-08-12T23:55:00Z"}]`, 0, "before its start")
	f(`[{"start":"2024-08-13T00:00:00Z","end":"2024-08-13T00:05:00Z"}]`, 0, "want a name")
	f(`[{"name":"x","start":"noon","end":"2024-08-13T00:05:00Z"}]`, 0, "RFC 3339")
	f(`[{"name":"x","begin":"2024-08-13T00:00:00Z"}]`, 0, "unknown field")
	f(`{"name":"x"}`, 0, "JSON list")
}

func TestCompact(t *testing.T) {
	f := func(v float64, want string) {
		t.Helper()
		if got := compact(v); got != want {
			t.Fatalf("compact(%v) = %q, want %q", v, got, want)
		}
	}
	f(0, "0")
	f(950, "950")
	f(45_000, "45k")
	f(1_500, "1.5k")
	f(500_000, "500k")
	f(1_000_000, "1M")
	f(1_300_000, "1.3M")
	f(1_250_000, "1.25M")
	f(8_000_000, "8M")
	f(25, "25")
}

func TestTimeTicks(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	f := func(loc *time.Location, from, to time.Time, want string) {
		t.Helper()
		var labels []string
		for _, tick := range (timeTicks{loc: loc}).Ticks(unix(from), unix(to)) {
			if tick.Label != "" {
				labels = append(labels, tick.Label)
			}
		}
		if got := strings.Join(labels, " "); got != want {
			t.Fatalf("ticks %s..%s in %s = %q, want %q", from, to, loc, got, want)
		}
	}
	t0 := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	f(ny, t0.Add(-13*time.Minute), t0.Add(210*time.Minute), "20:00 20:30 21:00 21:30 22:00 22:30 23:00 23:30")
	f(time.UTC, t0.Add(-13*time.Minute), t0.Add(210*time.Minute), "Aug 13 00:30 01:00 01:30 02:00 02:30 03:00 03:30") // the date at midnight
	f(time.UTC, t0, t0.Add(10*time.Minute), "00:00 00:01 00:02 00:03 00:04 00:05 00:06 00:07 00:08 00:09 00:10")
	f(time.UTC, t0, t0.Add(3*24*time.Hour), "Aug 13 12:00 Aug 14 12:00 Aug 15 12:00 Aug 16")
	f(time.UTC, t0, t0.Add(30*time.Hour), "Aug 13 03:00 06:00 09:00 12:00 15:00 18:00 21:00 Aug 14 03:00 06:00")
}

func TestCountTicks(t *testing.T) {
	f := func(lo, hi float64, want string) {
		t.Helper()
		var labels []string
		for _, tick := range (countTicks{}).Ticks(lo, hi) {
			if tick.Label != "" {
				labels = append(labels, tick.Label)
			}
		}
		if got := strings.Join(labels, " "); got != want {
			t.Fatalf("countTicks(%v, %v) = %q, want %q", lo, hi, got, want)
		}
	}
	f(0, 1.7e6, "0 500k 1M 1.5M")
	f(0, 1.3e6, "0 250k 500k 750k 1M 1.25M")
	f(0, 8.8e6, "0 2M 4M 6M 8M")
	f(0, 3, "0 0.5 1 1.5 2 2.5 3")
	f(0, 1, "0 0.2 0.4 0.6 0.8 1")
	f(5, 5, "5")
}
