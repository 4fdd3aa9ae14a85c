package groundtruth

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Checker compares figures from ClickHouse with the ground truth and keeps
// every difference. Besides the list it tallies two kinds of difference a
// fault test reports on their own: seconds of a concurrency curve that differ
// (Second) and counts above the truth (Count: an event counted twice).
type Checker struct {
	Compared   int      // figures and points compared
	Mismatches []string // one line per difference: what, ClickHouse's value, the truth's

	WrongSeconds int   // points of a per-second curve that differ, missing or extra ones included
	Excess       int64 // Σ over Count figures of how far ClickHouse is above the truth
}

// Eq compares one figure; got and want are equal when they print the same.
func (c *Checker) Eq(what string, got, want any) bool {
	c.Compared++
	if fmt.Sprint(got) == fmt.Sprint(want) {
		return true
	}
	c.Mismatches = append(c.Mismatches, fmt.Sprintf("%s: clickhouse %v, ground truth %v", what, got, want))
	return false
}

// Second compares one second of a concurrency curve (Eq, and a wrong one is
// tallied in WrongSeconds).
func (c *Checker) Second(what string, got, want int64) {
	if !c.Eq(what, got, want) {
		c.WrongSeconds++
	}
}

// Count compares a count of events (Eq, and what ClickHouse counts above the
// truth is added to Excess).
func (c *Checker) Count(what string, got, want int64) {
	if !c.Eq(what, got, want) {
		c.Excess += max(got-want, 0)
	}
}

// OK reports whether every figure matched.
func (c *Checker) OK() bool { return len(c.Mismatches) == 0 }

// Figures are what CheckSpace read from ClickHouse, for printing.
type Figures struct {
	First, Last time.Time // the space's first and last second with an event
	Summary     warehouse.SpaceSummary
	Curve       []warehouse.Point         // CCL each second from First to Last
	Minutes     []warehouse.FailureBucket // attempts and failures each minute
}

// CheckSpace reads t's space from ClickHouse over the seconds of its events
// (warehouse.Bounds, Summary, Concurrency, FailureRate: the queries of
// sql/queries) and compares every figure, every second of the curve and every
// minute's attempts and failures with t.
func CheckSpace(ctx context.Context, conn warehouse.Querier, t *Space, c *Checker) (*Figures, error) {
	var f Figures
	var err error
	sp := t.ID
	if f.First, f.Last, err = warehouse.Bounds(ctx, conn, sp); err != nil {
		return nil, err
	}
	if f.Summary, err = warehouse.Summary(ctx, conn, sp, f.First, f.Last); err != nil {
		return nil, err
	}
	if f.Curve, err = warehouse.Concurrency(ctx, conn, sp, f.First, f.Last); err != nil {
		return nil, err
	}
	if f.Minutes, err = warehouse.FailureRate(ctx, conn, sp, f.First, f.Last); err != nil {
		return nil, err
	}
	s := f.Summary
	c.Eq(sp+" first second", f.First, time.Unix(t.first, 0).UTC())
	c.Eq(sp+" last second", f.Last, time.Unix(t.last, 0).UTC())

	// Concurrency: the whole per-second curve, then its peak.
	want := t.curve()
	if !c.Eq(sp+" concurrency points", len(f.Curve), len(want)) {
		c.WrongSeconds += max(len(f.Curve)-len(want), len(want)-len(f.Curve))
	}
	for i, p := range f.Curve {
		if i < len(want) {
			c.Second(fmt.Sprintf("%s CCL at %s", sp, p.Time.Format(time.TimeOnly)), p.Listeners, want[i])
		}
	}
	peak, peakAt := t.peak()
	c.Eq(sp+" peak", s.Peak.Listeners, peak)
	c.Eq(sp+" peak time", s.Peak.Time, peakAt)
	c.Eq(sp+" listeners at the end", s.ListenersAfter, want[len(want)-1])

	c.Count(sp+" joins", s.Joins, t.joins)
	c.Count(sp+" leaves", s.Leaves, t.leaves)
	c.Count(sp+" join attempts", s.JoinAttempts, t.joins+t.techFailures+t.bizFailures)
	c.Count(sp+" technical join failures", s.JoinFailures, t.techFailures)
	c.Count(sp+" business join failures", s.BusinessJoinFailures, t.bizFailures)
	c.Count(sp+" session errors", s.SessionErrors, t.sessionErrors)
	c.Eq(sp+" failure rate", FmtRate(s.JoinFailureRate), FmtRate(Ratio(t.techFailures, t.joins+t.techFailures+t.bizFailures, warehouse.MinAttempts)))
	attempting, failed, listeners := t.users()
	c.Eq(sp+" users attempting", s.UsersAttempting, attempting)
	c.Eq(sp+" users never joined", s.UsersFailed, failed)
	c.Eq(sp+" unique listeners", s.UniqueListeners, listeners)
	c.Count(sp+" join latency samples", s.JoinLatencySamples, int64(len(t.latencies)))
	q := t.quantiles()
	c.Eq(sp+" join latency p50/p95/p99", FmtMS(s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99), FmtMS(&q[0], &q[1], &q[2]))
	c.Count(sp+" mid-session drops", s.MidSessionDrops, t.drops)
	secs, sessions := t.listening()
	c.Count(sp+" listening seconds", s.ListeningSeconds, secs)
	c.Eq(sp+" sessions listening", s.SessionsListening, sessions)

	// Failure rate per minute.
	seen := make(map[int64]bool)
	for _, b := range f.Minutes {
		m := t.minutes[b.Start.Unix()]
		if m == nil {
			m = &count{}
		}
		seen[b.Start.Unix()] = true
		at := b.Start.Format("15:04")
		c.Count(sp+" attempts in minute "+at, b.Attempts, m.attempts)
		c.Count(sp+" technical failures in minute "+at, b.TechnicalFailures, m.tech)
		c.Count(sp+" business failures in minute "+at, b.BusinessFailures, m.biz)
	}
	for m := range t.minutes {
		if !seen[m] {
			c.Eq(sp+" minute "+time.Unix(m, 0).UTC().Format("15:04")+" reported", false, true)
		}
	}
	return &f, nil
}

// Ratio is n/d, or nil (not enough data) when d is 0 or under minD.
func Ratio(n, d int64, minD int64) *float64 {
	if d < minD || d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// FmtRate prints a rate as a percentage with two decimals, or "n/a (not enough data)" for nil.
func FmtRate(r *float64) string {
	if r == nil {
		return "n/a (not enough data)"
	}
	return fmt.Sprintf("%.2f %%", *r*100)
}

// FmtMS prints join latency quantiles, or "n/a" when one is missing.
func FmtMS(p50, p95, p99 *int64) string {
	if p50 == nil || p95 == nil || p99 == nil {
		return "n/a"
	}
	return fmt.Sprintf("p50 %s ms, p95 %s ms, p99 %s ms", Num(*p50), Num(*p95), Num(*p99))
}

// Num formats n with thousands separators (1,300,000).
func Num(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)
