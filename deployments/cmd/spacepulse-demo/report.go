package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// checker compares figures from ClickHouse with the ground truth.
type checker struct {
	compared   int
	mismatches []string
}

func (c *checker) eq(what string, got, want any) {
	c.compared++
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.mismatches = append(c.mismatches, fmt.Sprintf("%s: clickhouse %v, ground truth %v", what, got, want))
	}
}

func (c *checker) ok() bool { return len(c.mismatches) == 0 }

// reportSpace prints one space's figures from ClickHouse and checks them.
func reportSpace(ctx context.Context, out io.Writer, conn driver.Conn, t *truth, c *checker) error {
	first, last, err := warehouse.Bounds(ctx, conn, t.space)
	if err != nil {
		return err
	}
	s, err := warehouse.Summary(ctx, conn, t.space, first, last)
	if err != nil {
		return err
	}
	curve, err := warehouse.Concurrency(ctx, conn, t.space, first, last)
	if err != nil {
		return err
	}
	minutes, err := warehouse.FailureRate(ctx, conn, t.space, first, last)
	if err != nil {
		return err
	}
	sp := t.space
	c.eq(sp+" first second", first, time.Unix(t.first, 0).UTC())
	c.eq(sp+" last second", last, time.Unix(t.last, 0).UTC())

	// Concurrency: the whole per-second curve, then its peak.
	want := t.curve()
	c.eq(sp+" concurrency points", len(curve), len(want))
	values := make([]int64, len(curve))
	for i, p := range curve {
		values[i] = p.Listeners
		if i < len(want) {
			c.eq(fmt.Sprintf("%s CCL at %s", sp, p.Time.Format(time.TimeOnly)), p.Listeners, want[i])
		}
	}
	peak, peakAt := t.peak()
	c.eq(sp+" peak", s.Peak.Listeners, peak)
	c.eq(sp+" peak time", s.Peak.Time, peakAt)
	c.eq(sp+" listeners at the end", s.ListenersAfter, want[len(want)-1])

	c.eq(sp+" joins", s.Joins, t.joins)
	c.eq(sp+" leaves", s.Leaves, t.leaves)
	c.eq(sp+" join attempts", s.JoinAttempts, t.joins+t.techFailures+t.bizFailures)
	c.eq(sp+" technical join failures", s.JoinFailures, t.techFailures)
	c.eq(sp+" business join failures", s.BusinessJoinFailures, t.bizFailures)
	c.eq(sp+" session errors", s.SessionErrors, t.sessionErrors)
	c.eq(sp+" failure rate", fmtRate(s.JoinFailureRate), fmtRate(ratio(t.techFailures, t.joins+t.techFailures+t.bizFailures, warehouse.MinAttempts)))
	attempting, failed, listeners := t.users()
	c.eq(sp+" users attempting", s.UsersAttempting, attempting)
	c.eq(sp+" users never joined", s.UsersFailed, failed)
	c.eq(sp+" unique listeners", s.UniqueListeners, listeners)
	c.eq(sp+" join latency samples", s.JoinLatencySamples, int64(len(t.latencies)))
	q := t.quantiles()
	c.eq(sp+" join latency p50/p95/p99", fmtMS(s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99), fmtMS(&q[0], &q[1], &q[2]))
	c.eq(sp+" mid-session drops", s.MidSessionDrops, t.drops)
	secs, sessions := t.listening()
	c.eq(sp+" listening seconds", s.ListeningSeconds, secs)
	c.eq(sp+" sessions listening", s.SessionsListening, sessions)

	// Failure rate per minute.
	var worst *warehouse.FailureBucket
	seen := make(map[int64]bool)
	for i, b := range minutes {
		m := t.minutes[b.Start.Unix()]
		if m == nil {
			m = &count{}
		}
		seen[b.Start.Unix()] = true
		at := b.Start.Format("15:04")
		c.eq(sp+" attempts in minute "+at, b.Attempts, m.attempts)
		c.eq(sp+" technical failures in minute "+at, b.TechnicalFailures, m.tech)
		c.eq(sp+" business failures in minute "+at, b.BusinessFailures, m.biz)
		if b.Rate != nil && (worst == nil || *b.Rate > *worst.Rate) {
			worst = &minutes[i]
		}
	}
	for m := range t.minutes {
		if !seen[m] {
			c.eq(sp+" minute "+time.Unix(m, 0).UTC().Format("15:04")+" reported", false, true)
		}
	}

	step := max((len(values)+59)/60, 1)
	fmt.Fprintf(out, "space %s   %s -> %s UTC (%d s)\n", sp, first.Format("2006-01-02 15:04:05"), last.Format("15:04:05"), len(curve))
	fmt.Fprintf(out, "  concurrency      %s  (%d s a column)\n", sparkline(values, step), step)
	fmt.Fprintf(out, "  peak             %s listeners at %s UTC\n", num(s.Peak.Listeners), s.Peak.Time.Format(time.TimeOnly))
	fmt.Fprintf(out, "  join attempts    %s = %s joins + %s technical + %s business failures\n",
		num(s.JoinAttempts), num(s.Joins), num(s.JoinFailures), num(s.BusinessJoinFailures))
	line := fmt.Sprintf("  failure rate     %s technical per attempt", fmtRate(s.JoinFailureRate))
	if worst != nil {
		line += fmt.Sprintf("; worst minute %s at %s", fmtRate(worst.Rate), worst.Start.Format("15:04"))
	}
	fmt.Fprintln(out, line)
	fmt.Fprintf(out, "  users            %s unique listeners; %s attempting, %s never got in (%s)\n",
		num(s.UniqueListeners), num(s.UsersAttempting), num(s.UsersFailed), fmtRate(s.PerUserFailureRate))
	fmt.Fprintf(out, "  join latency     %s\n", fmtMS(s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99))
	fmt.Fprintf(out, "  sessions         %s leaves, %s mid-session drops, %.1f listener-hours\n\n",
		num(s.Leaves), num(s.MidSessionDrops), float64(s.ListeningSeconds)/3600)
	return nil
}

// reportPipeline prints and checks the pipeline's own figures.
func reportPipeline(ctx context.Context, out io.Writer, conn driver.Conn, s *sent, end harness.Offsets,
	committed time.Time, stats *ingest.Stats, dead []string, c *checker) error {
	rows, distinct, err := counts(ctx, conn)
	if err != nil {
		return err
	}
	took := committed.Sub(s.start)
	fmt.Fprintln(out, "pipeline")
	fmt.Fprintf(out, "  throughput       %s events/s end to end (%s valid events, first send to last commit %.2f s;\n"+
		"                   producer, kfake, consumer and ClickHouse share this machine's cores)\n",
		num(int64(float64(s.valid)/took.Seconds())), num(s.valid), took.Seconds())
	events, invalid := stats.Events.Load(), stats.Invalid.Load()
	fmt.Fprintf(out, "  consumer         %s rows inserted in %d batches, %d events to the dead-letter topic, stopped cleanly\n",
		num(events), stats.Batches.Load(), invalid)
	c.eq("rows the consumer inserted (each event once)", events, s.valid)
	c.eq("copies the consumer kept out", stats.Duplicates.Load(), s.duplicates)
	c.eq("events the consumer sent to the dead-letter topic", invalid, s.invalid)
	fmt.Fprintf(out, "  events table     %s distinct event ids in %s rows (%s duplicate deliveries kept out by the consumer)\n",
		num(int64(distinct)), num(int64(rows)), num(stats.Duplicates.Load()))
	c.eq("distinct event ids in clickhouse", distinct, s.valid)
	c.eq("rows in clickhouse (each event once)", rows, s.valid)
	c.eq("messages on the topic", end.Sum(), s.valid+s.duplicates+s.invalid)
	c.eq("dead letters", len(dead), s.invalid)
	fmt.Fprintf(out, "  dead letters     %d in %s:\n", len(dead), dlqTopic)
	sort.Strings(dead)
	for _, r := range dead {
		if len(r) > 90 {
			r = r[:87] + "..."
		}
		fmt.Fprintf(out, "                     %s\n", r)
	}
	return nil
}

// sparkline draws values as one block character per step values (their max).
func sparkline(values []int64, step int) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	var top int64
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	for i := 0; i < len(values); i += step {
		var m int64
		for _, v := range values[i:min(i+step, len(values))] {
			m = max(m, v)
		}
		k := 0
		if top > 0 {
			k = int(math.Round(float64(m) / float64(top) * float64(len(levels)-1)))
		}
		b.WriteRune(levels[k])
	}
	return b.String()
}

func ratio(n, d int64, minD int64) *float64 {
	if d < minD || d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

func fmtRate(r *float64) string {
	if r == nil {
		return "n/a (not enough data)"
	}
	return fmt.Sprintf("%.2f %%", *r*100)
}

func fmtMS(p50, p95, p99 *int64) string {
	if p50 == nil || p95 == nil || p99 == nil {
		return "n/a"
	}
	return fmt.Sprintf("p50 %s ms, p95 %s ms, p99 %s ms", num(*p50), num(*p95), num(*p99))
}

// num formats n with thousands separators (1,300,000).
func num(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)

func host(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
