package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// demoPipeline is what every demo runs: a fresh ClickHouse database, an
// embedded Kafka broker and the consumer, in this process.
type demoPipeline struct {
	srv   *harness.Server
	conn  driver.Conn
	k     *harness.Kafka
	stats *ingest.Stats

	stopConsumer context.CancelFunc
	consumerDone chan struct{}
	consumerErr  error
}

// startPipeline recreates the database, starts kfake and the consumer, and
// prints what it started.
func startPipeline(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) (*demoPipeline, error) {
	db := cfg.ClickHouse.Database
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	srv, err := harness.Connect(cctx, cfg.ClickHouse, nil)
	if err != nil {
		return nil, err
	}
	conn, err := srv.Recreate(cctx, db, nil)
	if err != nil {
		srv.Close()
		return nil, err
	}
	fmt.Fprintf(out, "  clickhouse  %s at %s; database %s dropped and recreated (schema v%d)\n",
		srv.Version, cfg.ClickHouse.Addr, db, warehouse.LatestVersion)
	var k *harness.Kafka
	what := "embedded kfake broker"
	if cfg.Brokers == "" {
		k, err = harness.StartKafka(int32(cfg.Partitions), "", topic, dlqTopic)
	} else {
		what = "kafka"
		k, err = harness.ConnectKafka(ctx, strings.Split(cfg.Brokers, ","), int32(cfg.Partitions), topic, dlqTopic)
	}
	if err != nil {
		conn.Close()
		srv.Close()
		return nil, err
	}
	fmt.Fprintf(out, "  kafka       %s at %s; %s and %s, %d partitions each\n",
		what, k.Addr, topic, dlqTopic, cfg.Partitions)

	// The consumer, in this process, exactly as spacepulse-consumer runs it.
	p := &demoPipeline{srv: srv, conn: conn, k: k, stats: &ingest.Stats{}, consumerDone: make(chan struct{})}
	cc := ingest.ConsumerConfig{
		Kafka:   endpoint.Kafka{Brokers: strings.Split(cmp.Or(cfg.Brokers, k.Addr), ",")},
		Group:   group,
		Migrate: true,
		Pipeline: ingest.Config{
			Topic: topic, DLQTopic: dlqTopic,
			BatchRows: cfg.BatchRows, BatchBytes: ingest.DefaultBatchBytes, BatchAge: cfg.BatchAge,
			DrainTimeout: 30 * time.Second, Stats: p.stats,
		},
		ClickHouse: cfg.ClickHouse,
	}
	if err := cc.Validate(); err != nil {
		p.close()
		return nil, err
	}
	consumerCtx, stop := context.WithCancel(ctx)
	p.stopConsumer = stop
	go func() {
		defer close(p.consumerDone)
		p.consumerErr = ingest.RunConsumer(consumerCtx, cc, logger)
	}()
	fmt.Fprintf(out, "  consumer    group %s, batches of up to %s events or %s\n", group, num(int64(cfg.BatchRows)), cfg.BatchAge)
	return p, nil
}

// waitCommitted waits until the consumer committed every message on the
// topic (or cfg.Timeout passes), then stops it cleanly.
func (p *demoPipeline) waitCommitted(ctx context.Context, timeout time.Duration, progress func(harness.Offsets)) (harness.Offsets, time.Time, error) {
	end, err := p.k.EndOffsets(ctx, topic)
	if err != nil {
		return nil, time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = p.k.WaitCommitted(wctx, p.consumerDone, group, topic, end, 20*time.Millisecond, progress)
	committed := time.Now()
	p.stopConsumer()
	<-p.consumerDone
	if err != nil {
		if p.consumerErr != nil {
			err = fmt.Errorf("%w\n  consumer: %v", err, p.consumerErr)
		}
		return nil, time.Time{}, fmt.Errorf("wait for the consumer: %w (run with -v to see its log)", err)
	}
	if p.consumerErr != nil {
		return nil, time.Time{}, fmt.Errorf("consumer did not stop cleanly: %w", p.consumerErr)
	}
	return end, committed, nil
}

// close stops the consumer and releases everything.
func (p *demoPipeline) close() {
	if p.stopConsumer != nil {
		p.stopConsumer()
		<-p.consumerDone
	}
	p.k.Close()
	p.conn.Close()
	p.srv.Close()
}
