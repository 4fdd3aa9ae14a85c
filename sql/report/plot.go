package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Phase is a named stretch of the night (the herd, the failure window, ...), marked on the plot.
// In a phases file it is {"name": "herd", "start": "2024-08-12T23:55:00Z", "end": "..."}.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ReadPhases decodes a JSON list of Phases (times in RFC 3339) and checks each has a name and
// does not end before it starts.
func ReadPhases(r io.Reader) ([]Phase, error) {
	var phases []Phase
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&phases); err != nil {
		return nil, fmt.Errorf("read phases: want a JSON list of {name, start, end} in RFC 3339: %w", err)
	}
	for i, p := range phases {
		if p.Name == "" || p.Start.IsZero() || p.End.IsZero() {
			return nil, fmt.Errorf("read phases: phase %d: want a name, a start and an end", i)
		}
		if p.End.Before(p.Start) {
			return nil, fmt.Errorf("read phases: phase %q ends at %s, before its start %s", p.Name, rfc3339(p.End), rfc3339(p.Start))
		}
	}
	return phases, nil
}

// Plot formats.
const (
	FormatPNG = "png"
	FormatSVG = "svg"
)

// PlotOptions says how to draw a Report.
type PlotOptions struct {
	// Format is FormatPNG (default) or FormatSVG.
	Format string
	// Width and Height are the picture's size in pixels (SVG: CSS pixels); default 1600 x 1000.
	Width, Height int
	// Location is the time zone of the time axis; nil means UTC.
	Location *time.Location
	// Phases are drawn as labelled bands; optional.
	Phases []Phase
}

// ErrNothingToPlot is returned by Plot for a report without a concurrency curve.
var ErrNothingToPlot = errors.New("nothing to plot: the report has no concurrency points")

// Plot draws the night of r to w: on top the concurrency curve, below the per-minute technical
// join-failure rate with the alert threshold and the minutes the alert was firing (r.Alerts)
// shaded, both over the same time axis in opts.Location, with opts.Phases marked on both.
// Pure drawing: it reads r only, so any Report (from Build or made up) can be drawn.
func (r *Report) Plot(w io.Writer, opts PlotOptions) error {
	if len(r.Concurrency) == 0 {
		return ErrNothingToPlot
	}
	width, height := opts.Width, opts.Height
	if width == 0 {
		width = 1600
	}
	if height == 0 {
		height = 1000
	}
	if width < 300 || height < 200 || width > 10000 || height > 10000 {
		return fmt.Errorf("plot: size %dx%d: want 300x200 to 10000x10000 pixels", width, height)
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	rule := r.Rule
	if rule == (warehouse.AlertRule{}) {
		rule = warehouse.PageRule
	}
	// Text sizes follow the picture: 10 pt labels at 1600 px wide, at 96 dpi.
	dpi := max(72, int(math.Round(96*float64(width)/1600)))

	from, to := r.Concurrency[0].Time, r.Concurrency[len(r.Concurrency)-1].Time.Add(time.Second)
	if n := len(r.FailureRate); n > 0 {
		from = minTime(from, r.FailureRate[0].Start)
		to = maxTime(to, r.FailureRate[n-1].Start.Add(time.Minute))
	}
	top, bottom := r.concurrencyPlot(loc, opts.Phases), r.failurePlot(loc, opts.Phases, rule)
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = unix(from), unix(to)
	}

	var c vg.CanvasWriterTo
	switch opts.Format {
	case "", FormatPNG:
		img := image.NewRGBA(image.Rect(0, 0, width, height))
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))}
	case FormatSVG:
		c = vgsvg.New(vg.Length(width)*72/vg.Length(dpi), vg.Length(height)*72/vg.Length(dpi))
	default:
		return fmt.Errorf("plot: format %q: want %s or %s", opts.Format, FormatPNG, FormatSVG)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	dc = draw.Crop(dc, vg.Points(8), -vg.Points(14), vg.Points(6), -vg.Points(8))
	dc = r.drawTitle(dc, loc)
	drawPanels(dc, top, bottom, 0.58)
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write %s plot: %w", opts.Format, err)
	}
	return nil
}

var (
	listenersColor = color.NRGBA{R: 31, G: 100, B: 170, A: 255}
	failureColor   = color.NRGBA{R: 200, G: 40, B: 40, A: 255}
	alertColor     = color.NRGBA{R: 230, G: 60, B: 60, A: 50}
	phaseColor     = color.NRGBA{R: 90, G: 90, B: 120, A: 18}
	phaseLine      = color.NRGBA{R: 90, G: 90, B: 120, A: 110}
)

// drawTitle writes the title and a line of key figures at the top of c and returns the rest.
func (r *Report) drawTitle(c draw.Canvas, loc *time.Location) draw.Canvas {
	s := r.Summary
	title := fmt.Sprintf("Space %s, %s", s.Space, spanText(s.From, s.To, loc))
	sub := fmt.Sprintf("peak %s concurrent listeners at %s", num(s.Peak.Listeners), s.Peak.Time.In(loc).Format("15:04:05 MST"))
	if s.JoinFailureRate != nil {
		sub += fmt.Sprintf("   ·   %s of %s join attempts failed (technical)", pct(s.JoinFailureRate, ""), num(s.JoinAttempts))
	}
	sub += "   ·   " + alertsText(r.Alerts, loc)
	big := styled(14, color.Black)
	small := styled(10.5, color.NRGBA{R: 70, G: 70, B: 70, A: 255})
	y := c.Max.Y
	c.FillText(big, vg.Point{X: c.Center().X, Y: y}, title)
	y -= big.Height(title) + vg.Points(3)
	c.FillText(small, vg.Point{X: c.Center().X, Y: y}, sub)
	y -= small.Height(sub) + vg.Points(4)
	c.Max.Y = y
	return c
}

func alertsText(alerts []warehouse.AlertTransition, loc *time.Location) string {
	switch len(alerts) {
	case 0:
		return "the alert never fired"
	case 1:
		a := alerts[0]
		if a.ClearedAt.IsZero() {
			return "alert fired " + a.FiredAt.In(loc).Format("15:04") + ", still firing at the end"
		}
		return "alert fired " + a.FiredAt.In(loc).Format("15:04") + ", cleared " + a.ClearedAt.In(loc).Format("15:04")
	}
	return fmt.Sprintf("the alert fired %d times, first at %s", len(alerts), alerts[0].FiredAt.In(loc).Format("15:04"))
}

// spanText is "Mon 12 Aug 2024 19:47–23:30 EDT" (or with both dates when they differ).
func spanText(from, to time.Time, loc *time.Location) string {
	from, to = from.In(loc), to.In(loc)
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		return from.Format("Mon 2 Jan 2006 15:04") + "–" + to.Format("15:04 MST")
	}
	return from.Format("Mon 2 Jan 2006 15:04 MST") + " – " + to.Format("Mon 2 Jan 15:04 MST")
}

// drawPanels draws top over bottom in c, top taking share of the height, with their data areas
// aligned left and right.
func drawPanels(c draw.Canvas, top, bottom *plot.Plot, share float64) {
	gap := vg.Points(6)
	split := c.Min.Y + vg.Length(1-share)*(c.Max.Y-c.Min.Y)
	tc, bc := c, c
	tc.Min.Y = split + gap/2
	bc.Max.Y = split - gap/2
	td, bd := top.DataCanvas(tc), bottom.DataCanvas(bc)
	left := max(td.Min.X-tc.Min.X, bd.Min.X-bc.Min.X)
	right := max(tc.Max.X-td.Max.X, bc.Max.X-bd.Max.X)
	tc = draw.Crop(tc, left-(td.Min.X-tc.Min.X), -(right - (tc.Max.X - td.Max.X)), 0, 0)
	bc = draw.Crop(bc, left-(bd.Min.X-bc.Min.X), -(right - (bc.Max.X - bd.Max.X)), 0, 0)
	top.Draw(tc)
	bottom.Draw(bc)
}

// newPlot is a plot in the house fonts with a light grid.
func newPlot() *plot.Plot {
	p := plot.New()
	for _, sty := range []*draw.TextStyle{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Font.Variant = "Sans"
	}
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Min = 0
	p.X.Padding, p.Y.Padding = 0, 0
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	return p
}

// concurrencyPlot is the top panel: listeners over time, the peak marked.
func (r *Report) concurrencyPlot(loc *time.Location, phases []Phase) *plot.Plot {
	p := newPlot()
	p.Y.Label.Text = "concurrent listeners"
	p.Y.Tick.Marker = countTicks{}
	p.X.Tick.Marker = timeTicks{loc: loc, noLabels: true}
	p.Add(&phaseMarks{phases: phases, labels: true})
	curve := &plotter.Line{XYs: curveXYs(r.Concurrency, 4000), FillColor: color.NRGBA{R: 31, G: 100, B: 170, A: 40}}
	curve.LineStyle = draw.LineStyle{Color: listenersColor, Width: vg.Points(1.5)}
	p.Add(curve)
	peak := r.Summary.Peak
	if peak.Time.IsZero() {
		for _, pt := range r.Concurrency {
			if pt.Listeners > peak.Listeners {
				peak = pt
			}
		}
	}
	if peak.Listeners > 0 {
		dot, _ := plotter.NewScatter(plotter.XYs{{X: unix(peak.Time), Y: float64(peak.Listeners)}})
		dot.GlyphStyle = draw.GlyphStyle{Color: listenersColor, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		p.Add(dot)
	}
	headroom := 1.08
	if len(phases) > 0 {
		headroom = 1.3 // the phase labels sit above the curve
	}
	p.Y.Max = math.Max(1, float64(peak.Listeners)*headroom)
	return p
}

// failurePlot is the bottom panel: the per-minute technical join-failure rate, the threshold and
// the minutes the alert was firing.
func (r *Report) failurePlot(loc *time.Location, phases []Phase, rule warehouse.AlertRule) *plot.Plot {
	p := newPlot()
	p.Y.Label.Text = "join failures (% of attempts)"
	p.Y.Max = 1
	p.Y.Tick.Marker = percentTicks{}
	p.X.Tick.Marker = timeTicks{loc: loc}
	p.X.Label.Text = "time (" + loc.String() + ")"
	p.Add(&phaseMarks{phases: phases})
	firing := &spans{color: alertColor}
	for _, a := range r.Alerts {
		end := a.ClearedAt
		if end.IsZero() && len(r.FailureRate) > 0 {
			end = r.FailureRate[len(r.FailureRate)-1].Start.Add(time.Minute)
		}
		firing.ranges = append(firing.ranges, [2]float64{unix(a.FiredAt), unix(end)})
	}
	p.Add(firing)
	lineStyle := draw.LineStyle{Color: failureColor, Width: vg.Points(1.5)}
	var first *plotter.Line
	for _, run := range rateRuns(r.FailureRate, rule.MinAttempts) {
		l := &plotter.Line{XYs: run, StepStyle: plotter.PostStep, LineStyle: lineStyle}
		p.Add(l)
		if first == nil {
			first = l
		}
	}
	threshold := &plotter.Line{XYs: plotter.XYs{{X: -math.MaxFloat32, Y: rule.Threshold}, {X: math.MaxFloat32, Y: rule.Threshold}}}
	threshold.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	p.Add(clipped{threshold})

	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(4)
	if first == nil {
		first = &plotter.Line{LineStyle: lineStyle}
	}
	p.Legend.Add(fmt.Sprintf("technical join failures per attempt, per minute (minutes with ≥ %d attempts)", rule.MinAttempts), first)
	p.Legend.Add("alert threshold "+strconv.FormatFloat(rule.Threshold*100, 'f', -1, 64)+" %", threshold)
	p.Legend.Add(fmt.Sprintf("alert firing (over the threshold for %d minutes)", max(rule.For, 1)), firing)
	return p
}

// rateRuns turns the measured minutes into step-line runs, one per stretch without a gap of
// "not enough data", each ending at its last minute's end.
func rateRuns(buckets []warehouse.FailureBucket, minAttempts int64) []plotter.XYs {
	var runs []plotter.XYs
	var cur plotter.XYs
	flush := func(end time.Time) {
		if len(cur) > 0 {
			cur = append(cur, plotter.XY{X: unix(end), Y: cur[len(cur)-1].Y})
			runs = append(runs, cur)
			cur = nil
		}
	}
	var prevEnd time.Time
	for _, b := range buckets {
		if !prevEnd.IsZero() && b.Start.After(prevEnd) {
			flush(prevEnd)
		}
		if b.Attempts < max(minAttempts, 1) {
			flush(b.Start)
		} else {
			cur = append(cur, plotter.XY{X: unix(b.Start), Y: float64(b.TechnicalFailures) / float64(b.Attempts)})
		}
		prevEnd = b.Start.Add(time.Minute)
	}
	flush(prevEnd)
	return runs
}

// curveXYs is the concurrency curve, reduced to at most about 2*bins points (the lowest and the
// highest of each bin, in time order) so that peaks and dips survive.
func curveXYs(points []warehouse.Point, bins int) plotter.XYs {
	if len(points) <= 2*bins {
		xys := make(plotter.XYs, len(points))
		for i, p := range points {
			xys[i] = plotter.XY{X: unix(p.Time), Y: float64(p.Listeners)}
		}
		return xys
	}
	xys := make(plotter.XYs, 0, 2*bins+2)
	per := (len(points) + bins - 1) / bins
	for lo := 0; lo < len(points); lo += per {
		bin := points[lo:min(lo+per, len(points))]
		lowest, highest := 0, 0
		for i, p := range bin {
			if p.Listeners < bin[lowest].Listeners {
				lowest = i
			}
			if p.Listeners > bin[highest].Listeners {
				highest = i
			}
		}
		for _, i := range []int{min(lowest, highest), max(lowest, highest)} {
			xys = append(xys, plotter.XY{X: unix(bin[i].Time), Y: float64(bin[i].Listeners)})
		}
	}
	return xys
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// compact formats a count for an axis: 0, 950, 45k, 1.3M.
func compact(v float64) string {
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trim(strconv.FormatFloat(v/1e6, 'f', 2, 64)) + "M"
	case a >= 1e3:
		return trim(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	}
	return trim(strconv.FormatFloat(v, 'f', 1, 64))
}
