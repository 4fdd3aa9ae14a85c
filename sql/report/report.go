// Package report assembles a space's figures from package warehouse for spacepulse-report and
// writes them as a short text table or as JSON.
package report

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Options says what to report on.
type Options struct {
	// Space is the space id; required.
	Space string
	// From and To bound the window, both inclusive, truncated to whole seconds; a zero value
	// means the space's first (From) or last (To) second with an event.
	From, To time.Time
}

// Report is everything spacepulse-report prints.
type Report struct {
	Summary        warehouse.SpaceSummary
	Concurrency    []warehouse.Point         // every second of the window
	FailureRate    []warehouse.FailureBucket // every minute of the window
	FailuresByCode []warehouse.Breakdown     // whole minutes overlapping the window
	// Rule is the alert rule Alerts were evaluated with (Build: warehouse.PageRule).
	Rule warehouse.AlertRule
	// AlertMinutes is Rule evaluated minute by minute (warehouse.AlertState, the query the
	// Grafana alert reads), Alerts its firings in order.
	AlertMinutes []warehouse.AlertMinute
	Alerts       []warehouse.AlertTransition
	// Pages are the other pages of sql/README.md (retry amplification, a fall of listeners),
	// evaluated the same way.
	Pages []Page
	// Watermark is the ingest watermark the minutes were judged against: minutes after it (less
	// the rule's lateness) are incomplete, not judged yet.
	Watermark warehouse.Watermark
}

// Page is one paging rule evaluated over the window: its minutes and firings.
type Page struct {
	Rule    warehouse.AlertRule
	Minutes []warehouse.AlertMinute
	Alerts  []warehouse.AlertTransition
}

// Worst returns the minute with the largest figure the rule did not excuse (nil when no minute
// has one): a fall of listeners judged good is a room end, left out.
func (p Page) Worst() *warehouse.AlertMinute {
	var w *warehouse.AlertMinute
	for i := range p.Minutes {
		m := &p.Minutes[i]
		excused := m.State == "good" && m.Value != nil && *m.Value > p.Rule.Threshold
		if m.Value != nil && !excused && (w == nil || *m.Value > *w.Value) {
			w = m
		}
	}
	return w
}

// Build runs the queries for opts. A space without events fails with an error wrapping
// warehouse.ErrUnknownSpace that names a few spaces that do have events.
func Build(ctx context.Context, q warehouse.Querier, opts Options) (*Report, error) {
	if opts.Space == "" {
		return nil, errors.New("report: want a space id")
	}
	from, to := opts.From, opts.To
	first, last, err := warehouse.Bounds(ctx, q, opts.Space)
	if err != nil {
		if errors.Is(err, warehouse.ErrUnknownSpace) {
			return nil, unknownSpace(ctx, q, err)
		}
		return nil, err
	}
	if from.IsZero() {
		from = first
	}
	if to.IsZero() {
		to = last
	}
	r := &Report{}
	if r.Summary, err = warehouse.Summary(ctx, q, opts.Space, from, to); err != nil {
		return nil, err
	}
	if r.Concurrency, err = warehouse.Concurrency(ctx, q, opts.Space, from, to); err != nil {
		return nil, err
	}
	if r.FailureRate, err = warehouse.FailureRate(ctx, q, opts.Space, from, to); err != nil {
		return nil, err
	}
	r.Rule = warehouse.PageRule
	if r.Watermark, err = warehouse.IngestWatermark(ctx, q); err != nil {
		return nil, err
	}
	// The room's last minute is whole unless the window was cut inside it.
	alertTo := to
	if opts.To.IsZero() {
		alertTo = to.UTC().Truncate(time.Minute).Add(time.Minute - time.Second)
	}
	if r.AlertMinutes, err = warehouse.AlertState(ctx, q, opts.Space, from, alertTo, r.Rule, r.Watermark); err != nil {
		return nil, err
	}
	r.Alerts = warehouse.Transitions(r.AlertMinutes)
	for _, rule := range []warehouse.AlertRule{warehouse.RetryRule, warehouse.CrashRule} {
		ms, err := warehouse.AlertState(ctx, q, opts.Space, from, alertTo, rule, r.Watermark)
		if err != nil {
			return nil, err
		}
		r.Pages = append(r.Pages, Page{Rule: rule, Minutes: ms, Alerts: warehouse.Transitions(ms)})
	}
	if r.FailuresByCode, err = warehouse.FailuresBy(ctx, q, opts.Space, from, to, "code"); err != nil {
		return nil, err
	}
	return r, nil
}

// unknownSpace decorates err with up to five spaces that have events.
func unknownSpace(ctx context.Context, q warehouse.Querier, err error) error {
	spaces, lerr := warehouse.Spaces(ctx, q)
	if lerr != nil || len(spaces) == 0 {
		return fmt.Errorf("%w (the database has no events at all)", err)
	}
	var ids []string
	for _, s := range spaces[:min(5, len(spaces))] {
		ids = append(ids, s.Space)
	}
	more := ""
	if len(spaces) > 5 {
		more = fmt.Sprintf(" and %d more", len(spaces)-5)
	}
	return fmt.Errorf("%w; spaces with events: %s%s", err, strings.Join(ids, ", "), more)
}

// ParseTime reads a window bound: RFC 3339 (2024-08-13T00:42:17Z, fractions dropped) or unix
// seconds (1723509737).
func ParseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2024-08-13T00:42:17Z) or unix seconds", s)
	}
	return t.UTC(), nil
}
