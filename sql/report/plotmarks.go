package report

import (
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The pieces of the night's plot that gonum/plot does not have: time ticks in a zone, compact
// count ticks, vertical bands (phases, alert firing) and non-overlapping phase labels.

// styled is a sans-serif text style of size points.
func styled(points float64, c color.Color) text.Style {
	p := plot.New()
	sty := p.Title.TextStyle
	sty.Font.Variant = "Sans"
	sty.Font.Size = vg.Points(points)
	sty.Color = c
	return sty
}

// timeTicks puts ticks at round times of loc (every 1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6,
// 12 hours or days), at most 11 of them, labelled 15:04, or Jan 2 at midnight when the axis spans
// days.
type timeTicks struct {
	loc      *time.Location
	noLabels bool
}

var tickSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

func (tt timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration(hi-lo) * time.Second
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 10 {
			step = s
			break
		}
	}
	minor := step / 5
	switch step {
	case 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour:
		minor = step / 3
	case 2 * time.Minute, 2 * time.Hour, 24 * time.Hour, 48 * time.Hour:
		minor = step / 2
	case 7 * 24 * time.Hour:
		minor = 24 * time.Hour
	}
	first := time.Unix(int64(math.Floor(lo)), 0).In(tt.loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, tt.loc)
	last := time.Unix(int64(math.Ceil(hi)), 0).In(tt.loc)
	manyDays := last.After(day.AddDate(0, 0, 1))
	layout := func(t time.Time) string {
		if step >= 24*time.Hour || (manyDays && t.Hour() == 0 && t.Minute() == 0) {
			return "Jan 2"
		}
		return "15:04"
	}
	var ticks []plot.Tick
	for i := 0; ; i++ {
		t := day.Add(time.Duration(i) * minor)
		if minor >= 24*time.Hour {
			t = day.AddDate(0, 0, i*int(minor/(24*time.Hour)))
		}
		v := unix(t)
		if v > hi {
			break
		}
		if v < lo {
			continue
		}
		tick := plot.Tick{Value: v}
		if major := t.Sub(day)%step == 0; major && !tt.noLabels {
			tick.Label = t.Format(layout(t))
		} else if major {
			tick.Label = " " // a major tick without text
		}
		ticks = append(ticks, tick)
	}
	return ticks
}

// countTicks puts three to six labelled ticks at round counts (1, 2, 2.5 or 5 times a power of
// ten), labelled compactly (500k, 1.25M), with four minor ticks between.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: compact(lo)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	minor := step / 5
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi; i++ {
		v := i * minor
		t := plot.Tick{Value: v}
		if r := math.Mod(math.Abs(v), step); r < minor/2 || step-r < minor/2 {
			t.Label = compact(v)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// percentTicks mark 0 to 100 % every 25 % (minor every 5 %).
type percentTicks struct{}

func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := 0; p <= 100; p += 5 {
		v := float64(p) / 100
		if v < lo || v > hi {
			continue
		}
		t := plot.Tick{Value: v}
		if p%25 == 0 {
			t.Label = compact(float64(p)) + " %"
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// spans shades [from, to] ranges of the x axis (unix seconds) over the whole height of a panel;
// it is its own legend thumbnail.
type spans struct {
	ranges [][2]float64
	color  color.Color
}

func (s *spans) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, r := range s.ranges {
		fillX(&c, trX(r[0]), trX(r[1]), s.color)
	}
}

func (s *spans) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.color, rectangle(c.Min.X, c.Max.X, c.Min.Y, c.Max.Y))
}

func fillX(c *draw.Canvas, x0, x1 vg.Length, clr color.Color) {
	x0, x1 = max(x0, c.Min.X), min(x1, c.Max.X)
	if x1 > x0 {
		c.FillPolygon(clr, rectangle(x0, x1, c.Min.Y, c.Max.Y))
	}
}

func rectangle(x0, x1, y0, y1 vg.Length) []vg.Point {
	return []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
}

// clipped draws a line clipped to the data area without widening the axes to its points.
type clipped struct{ *plotter.Line }

func (l clipped) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(l.XYs[0].Y)
	if c.ContainsY(y) {
		c.StrokeLine2(l.LineStyle, c.Min.X, y, c.Max.X, y)
	}
}

// phaseMarks shades every other phase, draws a thin line where each begins and, with labels,
// writes the names at the top of the panel: centred over their phase, each on the first row
// where it overlaps no other name.
type phaseMarks struct {
	phases []Phase
	labels bool
}

func (m *phaseMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	edge := draw.LineStyle{Color: phaseLine, Width: vg.Points(0.75), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	for i, ph := range m.phases {
		x0, x1 := trX(unix(ph.Start)), trX(unix(ph.End))
		if i%2 == 0 {
			fillX(&c, x0, x1, phaseColor)
		}
		for _, x := range []vg.Length{x0, x1} {
			if c.ContainsX(x) {
				c.StrokeLine2(edge, x, c.Min.Y, x, c.Max.Y)
			}
		}
	}
	if !m.labels {
		return
	}
	sty := styled(9.5, color.NRGBA{R: 50, G: 50, B: 80, A: 255})
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	pad, gap := vg.Points(2.5), vg.Points(4)
	lineH := sty.Height("Hg") + 2*pad + vg.Points(2)
	var rowEnds []vg.Length // right edge of the last label on each row
	for _, ph := range m.phases {
		x0, x1 := max(trX(unix(ph.Start)), c.Min.X), min(trX(unix(ph.End)), c.Max.X)
		if x1 < c.Min.X || x0 > c.Max.X {
			continue
		}
		w := sty.Width(ph.Name) + 2*pad
		left := (x0+x1)/2 - w/2
		left = max(c.Min.X+pad, min(left, c.Max.X-pad-w))
		row := 0
		for row < len(rowEnds) && rowEnds[row]+gap > left {
			row++
		}
		if row == len(rowEnds) {
			rowEnds = append(rowEnds, 0)
		}
		rowEnds[row] = left + w
		top := c.Max.Y - pad - vg.Length(row)*lineH
		c.FillPolygon(color.NRGBA{R: 255, G: 255, B: 255, A: 215}, rectangle(left, left+w, top-lineH+vg.Points(2), top))
		c.FillText(sty, vg.Point{X: left + pad, Y: top - pad}, ph.Name)
	}
}
