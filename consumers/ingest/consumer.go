package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// ConsumerConfig is everything spacepulse-consumer needs: Kafka, ClickHouse
// and the pipeline settings.
type ConsumerConfig struct {
	Kafka endpoint.Kafka
	Group string
	// Migrate applies the sql/ migrations before consuming (default off: run spacepulse-migrate,
	// once, from one process; the consumer then only checks the schema version).
	Migrate bool
	// MetricsAddr, when not empty, serves Prometheus metrics at
	// http://MetricsAddr/metrics (e.g. 127.0.0.1:9464).
	MetricsAddr string
	// GroupClient holds the consumer group's timeouts and the lag poller's settings (zero
	// fields: defaults, see GroupConfig).
	GroupClient GroupConfig
	Pipeline    Config
	ClickHouse  warehouse.Config
}

// Default Kafka settings.
const (
	DefaultBrokers = "127.0.0.1:9092"
	DefaultGroup   = "spacepulse-consumer"
)

// Validate reports the first wrong setting in one line naming the flag and
// its environment variable.
func (c *ConsumerConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("-metrics-addr %q: want host:port such as 127.0.0.1:9464 (SPACEPULSE_METRICS_ADDR)", c.MetricsAddr)
		}
	}
	if c.Pipeline.Topic == "" {
		return errors.New("-kafka-topic is empty: name the topic to consume (SPACEPULSE_KAFKA_TOPIC)")
	}
	if c.Group == "" {
		return errors.New("-kafka-group is empty: name a consumer group (SPACEPULSE_KAFKA_GROUP)")
	}
	if c.Pipeline.DLQTopic == "" {
		return errors.New("-dlq-topic is empty: name a dead-letter topic (SPACEPULSE_DLQ_TOPIC)")
	}
	// Zero means the default (library callers); negative is a mistake.
	if c.Pipeline.BatchRows < 0 || c.Pipeline.BatchBytes < 0 || c.Pipeline.BatchAge < 0 {
		return fmt.Errorf("batch limits must be positive: -batch-rows %d, -batch-bytes %d, -batch-age %s",
			c.Pipeline.BatchRows, c.Pipeline.BatchBytes, c.Pipeline.BatchAge)
	}
	if err := c.Pipeline.Validate(); err != nil {
		return err
	}
	if err := c.GroupClient.Validate(); err != nil {
		return err
	}
	return c.ClickHouse.Validate()
}

// RunConsumer connects to ClickHouse (applying migrations when asked) and
// Kafka, and runs the pipeline until ctx is cancelled. Then it stops within
// Config.DrainTimeout plus shutdownReserve (23 s by default: 15 s drain + 8 s): the fetch stops,
// the pipeline drains and commits, the last progress record is written, and
// only then does the consumer leave the group, so that its partitions move on
// at once rather than after the session timeout. Leaving first would hand the
// partitions over while their last batches are still landing: their offsets
// could no longer be committed (kgo commits as a member), and the new owner,
// whose landed-event index loads as it is assigned, would insert those
// batches a second time (the copy sweep repairs that only within seconds).
// It returns an error matching ErrDrainIncomplete when the drain gave up,
// saying how many fetched messages were left uncommitted.
func RunConsumer(ctx context.Context, c ConsumerConfig, logger *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	kopts, err := KafkaOpts(c.Kafka)
	if err != nil {
		return err
	}
	// open connects (migrating first with -migrate) and checks the schema's version and layout.
	open := func(ctx context.Context, cfg warehouse.Config, logger *slog.Logger) (driver.Conn, error) {
		var conn driver.Conn
		var err error
		if c.Migrate {
			var applied []int
			if conn, applied, err = warehouse.Setup(ctx, cfg, logger); err == nil {
				logger.Info("schema up to date", slog.Any("applied", applied))
			}
		} else {
			conn, err = warehouse.Open(ctx, cfg, logger)
		}
		if err != nil {
			return nil, err
		}
		if err := checkSchema(ctx, conn, cfg.Database, cfg.Cluster); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	}
	// ClickHouse may be down when the consumer starts: wait for it.
	var conn driver.Conn
	connectCfg := Config{Logger: logger}
	connectCfg.setDefaults()
	// Settings the server refuses (a certificate, a password) end the wait (retryUntil).
	err = retryUntil(ctx, &connectCfg, "connect to clickhouse", func(ctx context.Context) error {
		var err error
		conn, err = open(ctx, c.ClickHouse, logger)
		return err
	}, func() {})
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := NewGroupReaderWith(c.Kafka.Brokers, c.Group, c.Pipeline.Topic, c.GroupClient, logger, kopts...)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := waitForKafka(ctx, c.Kafka, r.Ping, logger); err != nil {
		return err
	}
	w := NewDLQWriter(c.Kafka.Brokers, c.Pipeline.DLQTopic, logger)
	if w.Transport, err = KafkaGoTransport(c.Kafka); err != nil {
		return err
	}
	defer w.Close()
	cfg := c.Pipeline
	cfg.Logger = logger
	cfg.Landed = LandedFrom(conn)
	// The progress reports have a connection pool of their own: each report has a deadline, and
	// clickhouse-go can close a pooled connection when a deadline fires as its query ends; in a
	// shared pool the next insert would get it, fail, and be retried with a lookup (CI saw the
	// error once, in TestAlertWithLaggingConsumer, when reports timed out on a loaded machine).
	var progressConn driver.Conn
	if err := retryUntil(ctx, &connectCfg, "connect to clickhouse for progress reports", func(ctx context.Context) error {
		var err error
		progressConn, err = warehouse.Open(ctx, c.ClickHouse, logger)
		return err
	}, func() {}); err != nil {
		return err
	}
	defer progressConn.Close()
	cfg.Progress, cfg.Group = ProgressTo(progressConn), c.Group
	cfg.Sweep = SweepFrom(conn)
	dialer, err := KafkaGoDialer(c.Kafka)
	if err != nil {
		return err
	}
	cfg.Originals = OriginalsFrom(c.Kafka.Brokers, dialer)
	sink := NewSink(conn, c.ClickHouse.Database)
	if c.ClickHouse.Cluster != "" {
		sink = NewClusterSink(conn, c.ClickHouse.Database)
	}
	sink.Reconcile = reconciler(conn, logger)
	p := New(cfg, r, sink, w)
	if c.MetricsAddr != "" {
		stop, err := serveMetrics(c, conn, p.Stats(), r, logger, kopts...)
		if err != nil {
			return err
		}
		defer stop()
	}
	logger.Info("consuming", slog.String("brokers", strings.Join(c.Kafka.Brokers, ",")), slog.Bool("kafka_tls", c.Kafka.TLS.On()),
		slog.String("kafka_sasl", c.Kafka.SASL.Mechanism), slog.String("topic", cfg.Topic),
		slog.String("group", c.Group), slog.String("clickhouse", c.ClickHouse.Addr), slog.Bool("clickhouse_tls", c.ClickHouse.TLS.On()),
		slog.String("clickhouse_compression", c.ClickHouse.WireCompression()))
	err = p.Run(ctx)
	// Everything that could be committed is: leave the group, so that its partitions are
	// reassigned now (the deferred Close would leave it too, unbounded).
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	if lerr := r.cl.LeaveGroupContext(lctx); lerr != nil {
		logger.Warn("cannot leave the consumer group: its partitions move on after the session timeout",
			slog.String("group", c.Group), slog.Any("err", lerr))
	}
	cancel()
	s := p.Stats()
	logger.Info("consumer stopped", slog.Int64("events", s.Events.Load()), slog.Int64("invalid", s.Invalid.Load()),
		slog.Int64("duplicates", s.Duplicates.Load()), slog.Int64("lookups", s.Lookups.Load()),
		slog.Int64("index_loads", s.Loads.Load()), slog.Int64("batches", s.Batches.Load()))
	return err
}

// Bounds of the steps of a shutdown after the drain (see RunConsumer): the last progress
// record (finalReportTimeout), leaving the group, stopping the metrics server; shutdownReserve
// is their sum, what a shutdown takes beyond Config.DrainTimeout at most.
const (
	leaveTimeout       = 3 * time.Second
	metricsStopTimeout = 2 * time.Second
	shutdownReserve    = finalReportTimeout + leaveTimeout + metricsStopTimeout
)

// ErrSchema is returned by RunConsumer when the database is not at warehouse.LatestVersion.
var ErrSchema = errors.New("schema version mismatch")

// checkSchema fails unless conn's database is at warehouse.LatestVersion: a consumer must not
// write rows that the views of an older schema would count otherwise; nor (warehouse.CheckLayout)
// insert into a cluster's Distributed table without -cluster, which would return before the
// shards have the rows.
func checkSchema(ctx context.Context, conn warehouse.Querier, database, cluster string) error {
	v, err := warehouse.SchemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if v > 0 {
		if err := warehouse.CheckLayout(ctx, conn, cluster); err != nil {
			return fmt.Errorf("database %s: %w", database, err)
		}
	}
	switch {
	case v < warehouse.LatestVersion:
		return fmt.Errorf("database %s is at schema version %d, this consumer needs %d: run spacepulse-migrate (once, from one process) or start one consumer with -migrate: %w",
			database, v, warehouse.LatestVersion, ErrSchema)
	case v > warehouse.LatestVersion:
		return fmt.Errorf("database %s is at schema version %d, newer than this consumer knows (%d): upgrade the consumer: %w",
			database, v, warehouse.LatestVersion, ErrSchema)
	}
	return nil
}

// kafkaLogger adapts kafka-go's printf logger to slog at a fixed level.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, "kafka client", slog.String("detail", fmt.Sprintf(msg, args...)))
		}
	})
}

// serveMetrics serves the pipeline's Prometheus metrics (and the Go runtime's) at /metrics, and
// /healthz and /readyz (see Health), on c.MetricsAddr until stop is called. It runs the lag
// poller of c.Group on c.Pipeline.Topic (every c.GroupClient.LagInterval), whose figures the lag
// metrics and /readyz read.
func serveMetrics(c ConsumerConfig, conn pinger, s *Stats, r *GroupReader, logger *slog.Logger, kopts ...kgo.Opt) (stop func(), err error) {
	gc := c.GroupClient
	gc.setDefaults()
	lag, err := NewLagPoller(c.Kafka.Brokers, c.Group, c.Pipeline.Topic, gc.LagInterval, logger, kopts...)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func(), error) {
		lag.cl.Close() // Run did not start: close its client here
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := RegisterMetrics(reg, s, lag); err != nil {
		return fail(fmt.Errorf("register metrics: %w", err))
	}
	if err := RegisterReaderMetrics(reg, r); err != nil {
		return fail(fmt.Errorf("register metrics: %w", err))
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return fail(fmt.Errorf("serve metrics on -metrics-addr %s: %w", c.MetricsAddr, err))
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	h := &Health{ClickHouse: conn, Lag: lag, Interval: gc.LagInterval, MaxLag: gc.ReadyMaxLag}
	h.routes(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		lag.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("metrics server stopped", slog.Any("err", err))
		}
	}()
	logger.Info("serving metrics, /healthz and /readyz", slog.String("addr", ln.Addr().String()))
	return func() {
		sctx, scancel := context.WithTimeout(context.Background(), metricsStopTimeout)
		defer scancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close() // a scrape still running: cut it
		}
		cancel()
		wg.Wait()
	}, nil
}

// reconciler returns the Sink's Reconcile: warehouse.Reconcile over the range, a repair logged.
// A failure is returned: the Sink fails the insert with it, and the writer retries the block,
// reconciling again, before it commits (until 2026-12-08 it was only logged, and a server killed
// again during the reconcile left a rollup short: TestServerKilledDuringIngestion caught it).
func reconciler(conn driver.Conn, logger *slog.Logger) func(ctx context.Context, from, to time.Time) error {
	return func(ctx context.Context, from, to time.Time) error {
		rep, err := warehouse.Reconcile(ctx, conn, from, to, 2*time.Second)
		if err != nil {
			return err
		}
		if rep != (warehouse.Repair{}) {
			logger.Warn("rollups reconciled after a retried insert", slog.Time("from", from.UTC()), slog.Time("to", to.UTC()),
				slog.Int("second_cells", rep.Seconds), slog.Int("minute_cells", rep.Minutes), slog.Int("latency_cells", rep.Latency),
				slog.Int64("rows", rep.Rows), slog.Int("unsettled", rep.Unsettled))
		}
		return nil
	}
}
