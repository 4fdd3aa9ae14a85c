package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

const (
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

	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	srv, err := harness.Connect(cctx, cfg.ClickHouse, nil)
	if err != nil {
		return false, err
	}
	defer srv.Close()
	conn, err := srv.Recreate(cctx, db, nil)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	fmt.Fprintf(out, "  clickhouse  %s at %s; database %s dropped and recreated (schema v%d)\n",
		srv.Version, cfg.ClickHouse.Addr, db, warehouse.LatestVersion)

	k, err := harness.StartKafka(int32(cfg.Partitions), "", topic, dlqTopic)
	if err != nil {
		return false, err
	}
	defer k.Close()
	fmt.Fprintf(out, "  kafka       embedded kfake broker at %s; %s and %s, %d partitions each\n",
		k.Addr, topic, dlqTopic, cfg.Partitions)

	// The consumer, in this process, exactly as spacepulse-consumer runs it.
	cc := ingest.ConsumerConfig{
		Brokers: k.Addr,
		Group:   group,
		Migrate: true,
		Pipeline: ingest.Config{
			Topic: topic, DLQTopic: dlqTopic,
			BatchRows: cfg.BatchRows, BatchBytes: ingest.DefaultBatchBytes, BatchAge: cfg.BatchAge,
			DrainTimeout: 30 * time.Second,
		},
		ClickHouse: cfg.ClickHouse,
	}
	if err := cc.Validate(); err != nil {
		return false, err
	}
	stats := &stopStats{}
	consumerCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumerDone := make(chan struct{})
	var consumerErr error
	go func() {
		defer close(consumerDone)
		consumerErr = ingest.RunConsumer(consumerCtx, cc, slog.New(&captureHandler{next: logger.Handler(), stats: stats}))
	}()
	defer func() { stopConsumer(); <-consumerDone }()
	fmt.Fprintf(out, "  consumer    group %s, batches of up to %s events or %s\n", group, num(int64(cfg.BatchRows)), cfg.BatchAge)

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

	end, err := k.EndOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	wctx, cancelWait := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelWait()
	err = k.WaitCommitted(wctx, consumerDone, group, topic, end, 20*time.Millisecond, nil)
	committed := time.Now()
	if err != nil {
		stopConsumer()
		<-consumerDone
		if consumerErr != nil {
			err = fmt.Errorf("%w\n  consumer: %v", err, consumerErr)
		}
		return false, fmt.Errorf("wait for the consumer: %w (run with -v to see its log)", err)
	}
	fmt.Fprintf(out, "  committed   all %s messages, %.1f s after the first was sent\n",
		num(end.Sum()), committed.Sub(s.start).Seconds())
	stopConsumer()
	<-consumerDone
	if consumerErr != nil {
		return false, fmt.Errorf("consumer did not stop cleanly: %w", consumerErr)
	}

	dead, err := readDeadLetters(ctx, k)
	if err != nil {
		return false, err
	}
	c := &checker{}
	fmt.Fprintln(out)
	for _, t := range s.truths {
		if err := reportSpace(ctx, out, conn, t, c); err != nil {
			return false, err
		}
	}
	if err := reportPipeline(ctx, out, conn, s, end, committed, stats, dead, c); err != nil {
		return false, err
	}
	fmt.Fprintln(out)
	if c.ok() {
		fmt.Fprintf(out, "ground truth: matches exactly (%s figures and points compared)\n", num(int64(c.compared)))
	} else {
		fmt.Fprintf(out, "ground truth: %d MISMATCHES (of %s figures and points compared):\n", len(c.mismatches), num(int64(c.compared)))
		for _, m := range c.mismatches {
			fmt.Fprintln(out, "  "+m)
		}
	}
	fmt.Fprintf(out, "\nexplore it (the database stays until the next demo):\n"+
		"  go run ./sql/cmd/spacepulse-report -clickhouse-addr %s -clickhouse-database %s -space %s\n",
		cfg.ClickHouse.Addr, db, s.truths[0].space)
	fmt.Fprintf(out, "  clickhouse-client --host %s --port %s -d %s -q 'SELECT space_id, kind, count() FROM events GROUP BY space_id, kind ORDER BY space_id, kind'\n",
		host(cfg.ClickHouse.Addr), port(cfg.ClickHouse.Addr), db)
	fmt.Fprintf(out, "demo took %.1f s\n", time.Since(began).Seconds())
	return c.ok(), nil
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

// stopStats holds the figures RunConsumer logs when it stops ("consumer
// stopped"): RunConsumer does not return its pipeline's Stats.
type stopStats struct {
	mu                       sync.Mutex
	seen                     bool
	events, invalid, batches int64
}

// captureHandler passes records on to next and keeps the attributes of
// RunConsumer's "consumer stopped" record.
type captureHandler struct {
	next  slog.Handler
	stats *stopStats
}

func (h *captureHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "consumer stopped" {
		h.stats.mu.Lock()
		h.stats.seen = true
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "events":
				h.stats.events = a.Value.Int64()
			case "invalid":
				h.stats.invalid = a.Value.Int64()
			case "batches":
				h.stats.batches = a.Value.Int64()
			}
			return true
		})
		h.stats.mu.Unlock()
	}
	if !h.next.Enabled(ctx, r.Level) || (r.Message == "unsupported clickhouse version" && !h.next.Enabled(ctx, slog.LevelInfo)) {
		return nil // clickhouse-go warns on every connection to 18.16, which the project supports
	}
	return h.next.Handle(ctx, r)
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{next: h.next.WithAttrs(as), stats: h.stats}
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	return &captureHandler{next: h.next.WithGroup(name), stats: h.stats}
}

var _ slog.Handler = (*captureHandler)(nil)

// counts reads the raw row count and the distinct event ids of events.
func counts(ctx context.Context, conn driver.Conn) (rows, distinct uint64, err error) {
	err = conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&rows, &distinct)
	if err != nil {
		return 0, 0, fmt.Errorf("count events: %w", err)
	}
	return rows, distinct, nil
}
