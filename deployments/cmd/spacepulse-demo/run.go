package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/synth"
)

// The topics and group of this run: the defaults with the embedded broker,
// derived from -kafka-topic with a real one (main sets them).
var (
	topic    = ingest.DefaultTopic
	dlqTopic = ingest.DefaultDLQTopic
	group    = "spacepulse-demo"
)

// run runs the demo and writes its report to out. ok is false when a figure
// differs from the ground truth.
func run(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) (ok bool, err error) {
	began := time.Now()
	db := cfg.ClickHouse.Database
	fmt.Fprintf(out, "spacepulse demo: %s synthetic events over %d spaces -> embedded Kafka -> consumer -> ClickHouse\n\n",
		num(int64(cfg.Events)), cfg.Spaces)

	pl, err := startPipeline(ctx, cfg, logger, out)
	if err != nil {
		return false, err
	}
	defer pl.close()
	conn, k := pl.conn, pl.k

	// The load, through the producer library.
	p, err := producer.New(producer.Config{Brokers: []string{k.Addr}, Topic: topic, Logger: logger})
	if err != nil {
		return false, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	load := synth.Load{Events: cfg.Events, Spaces: cfg.Spaces, Seed: cfg.Seed, Start: now.Add(-10 * time.Minute), Duration: 10 * time.Minute}
	s, err := produce(ctx, p, load, cfg.DupEvery)
	if err != nil {
		_ = p.Close() // the produce error is the one to report
		return false, err
	}
	fmt.Fprintf(out, "  producer    sent %s events + %s duplicate deliveries + %d invalid messages in %.1f s\n",
		num(s.valid), num(s.duplicates), s.invalid, s.end.Sub(s.start).Seconds())

	end, committed, err := pl.waitCommitted(ctx, cfg.Timeout, nil)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(out, "  committed   all %s messages, %.1f s after the first was sent\n",
		num(end.Sum()), committed.Sub(s.start).Seconds())

	dead, err := readDeadLetters(ctx, k)
	if err != nil {
		return false, err
	}
	c := &groundtruth.Checker{}
	fmt.Fprintln(out)
	for _, t := range s.truths {
		if err := reportSpace(ctx, out, conn, t, c); err != nil {
			return false, err
		}
	}
	if err := reportPipeline(ctx, out, conn, s, end, committed, pl.stats, dead, c); err != nil {
		return false, err
	}
	fmt.Fprintln(out)
	if c.OK() {
		fmt.Fprintf(out, "ground truth: matches exactly (%s figures and points compared)\n", num(int64(c.Compared)))
	} else {
		fmt.Fprintf(out, "ground truth: %d MISMATCHES (of %s figures and points compared):\n", len(c.Mismatches), num(int64(c.Compared)))
		for _, m := range c.Mismatches {
			fmt.Fprintln(out, "  "+m)
		}
	}
	fmt.Fprintf(out, "\nexplore it (the database stays until the next demo):\n"+
		"  go run ./sql/cmd/spacepulse-report -clickhouse-addr %s -clickhouse-database %s -space %s\n",
		cfg.ClickHouse.Addr, db, s.truths[0].ID)
	fmt.Fprintf(out, "  clickhouse-client --host %s --port %s -d %s -q 'SELECT space_id, kind, count() FROM events GROUP BY space_id, kind ORDER BY space_id, kind'\n",
		host(cfg.ClickHouse.Addr), port(cfg.ClickHouse.Addr), db)
	fmt.Fprintf(out, "demo took %.1f s\n", time.Since(began).Seconds())
	return c.OK(), nil
}

// readDeadLetters reads the whole dead-letter topic and returns the `error`
// header of each message.
func readDeadLetters(ctx context.Context, k *harness.Kafka) ([]string, error) {
	end, err := k.EndOffsets(ctx, dlqTopic)
	if err != nil {
		return nil, err
	}
	want := end.Sum()
	if want == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr), kgo.ConsumeTopics(dlqTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dlqTopic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var reasons []string
	for int64(len(reasons)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return reasons, fmt.Errorf("read %s: %d of %d messages: %w", dlqTopic, len(reasons), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			reason := "(no error header)"
			for _, h := range r.Headers {
				if h.Key == "error" {
					reason = string(h.Value)
				}
			}
			reasons = append(reasons, reason)
		})
	}
	return reasons, nil
}

// counts reads the raw row count and the distinct event ids of events.
func counts(ctx context.Context, conn driver.Conn) (rows, distinct uint64, err error) {
	err = conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &distinct)
	if err != nil {
		return 0, 0, fmt.Errorf("count events: %w", err)
	}
	return rows, distinct, nil
}
