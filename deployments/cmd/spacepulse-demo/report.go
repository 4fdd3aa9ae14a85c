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

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// reportSpace prints one space's figures from ClickHouse and checks them.
func reportSpace(ctx context.Context, out io.Writer, conn driver.Conn, t *groundtruth.Space, c *groundtruth.Checker) error {
	f, err := groundtruth.CheckSpace(ctx, conn, t, c)
	if err != nil {
		return err
	}
	sp, s, first, last, curve := t.ID, f.Summary, f.First, f.Last, f.Curve
	values := make([]int64, len(curve))
	for i, p := range curve {
		values[i] = p.Listeners
	}
	var worst *warehouse.FailureBucket
	for i, b := range f.Minutes {
		if b.Rate != nil && (worst == nil || *b.Rate > *worst.Rate) {
			worst = &f.Minutes[i]
		}
	}

	step := max((len(values)+59)/60, 1)
	fmt.Fprintf(out, "space %s   %s -> %s UTC (%d s)\n", sp, first.Format("2006-01-02 15:04:05"), last.Format("15:04:05"), len(curve))
	fmt.Fprintf(out, "  concurrency      %s  (%d s a column)\n", sparkline(values, step), step)
	fmt.Fprintf(out, "  peak             %s listeners at %s UTC\n", num(s.Peak.Listeners), s.Peak.Time.Format(time.TimeOnly))
	fmt.Fprintf(out, "  join attempts    %s = %s joins + %s technical + %s business failures\n",
		num(s.JoinAttempts), num(s.Joins), num(s.JoinFailures), num(s.BusinessJoinFailures))
	line := fmt.Sprintf("  failure rate     %s technical per attempt", groundtruth.FmtRate(s.JoinFailureRate))
	if worst != nil {
		line += fmt.Sprintf("; worst minute %s at %s", groundtruth.FmtRate(worst.Rate), worst.Start.Format("15:04"))
	}
	fmt.Fprintln(out, line)
	fmt.Fprintf(out, "  users            %s unique listeners; %s attempting, %s never got in (%s)\n",
		num(s.UniqueListeners), num(s.UsersAttempting), num(s.UsersFailed), groundtruth.FmtRate(s.PerUserFailureRate))
	fmt.Fprintf(out, "  join latency     %s\n", groundtruth.FmtMS(s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99))
	fmt.Fprintf(out, "  sessions         %s leaves, %s mid-session drops, %.1f listener-hours\n\n",
		num(s.Leaves), num(s.MidSessionDrops), float64(s.ListeningSeconds)/3600)
	return nil
}

// reportPipeline prints and checks the pipeline's own figures.
func reportPipeline(ctx context.Context, out io.Writer, conn driver.Conn, s *sent, end harness.Offsets,
	committed time.Time, stats *ingest.Stats, dead []string, c *groundtruth.Checker) error {
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
	c.Eq("rows the consumer inserted (each event once)", events, s.valid)
	c.Eq("copies the consumer kept out", stats.Duplicates.Load(), s.duplicates)
	c.Eq("events the consumer sent to the dead-letter topic", invalid, s.invalid)
	fmt.Fprintf(out, "  events table     %s distinct event ids in %s rows (%s duplicate deliveries kept out by the consumer)\n",
		num(int64(distinct)), num(int64(rows)), num(stats.Duplicates.Load()))
	c.Eq("distinct event ids in clickhouse", distinct, s.valid)
	c.Eq("rows in clickhouse (each event once)", rows, s.valid)
	c.Eq("messages on the topic", end.Sum(), s.valid+s.duplicates+s.invalid)
	c.Eq("dead letters", len(dead), s.invalid)
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

// num formats n with thousands separators (1,300,000).
func num(n int64) string { return groundtruth.Num(n) }

func host(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
