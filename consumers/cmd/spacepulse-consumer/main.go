// Command spacepulse-consumer reads events from a Kafka consumer group and
// inserts them into ClickHouse; invalid events go to the dead-letter topic.
// Every flag has an environment equivalent: SPACEPULSE_ + the flag name in
// upper case with - as _ (e.g. -kafka-brokers is SPACEPULSE_KAFKA_BROKERS);
// passwords also come from files (-kafka-sasl-password-file,
// -clickhouse-password-file). Exit status: 0 stopped, 1 failed, 2 a wrong flag
// or settings a server refused (a certificate, a password), with one line
// saying what to change.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse/whflag"

	"github.com/spacepulse/spacepulse/consumers/ingest"
)

func main() {
	var cfg config
	fs := flags(&cfg)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fs.Exit(err, usageLine)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "spacepulse-consumer: %v\n", err)
		os.Exit(2)
	}
	err = ingest.RunConsumer(ctx, cfg.Consumer, logger)
	if perr := stopProfile(); perr != nil {
		logger.Error("cpu profile incomplete", slog.Any("err", perr))
	}
	if errors.Is(err, endpoint.ErrRefused) {
		fs.Exit(err, usageLine) // a setting to change, not an outage: exit 2
	}
	if err != nil {
		logger.Error("consumer stopped", slog.Any("err", err))
		os.Exit(1)
	}
}

// startCPUProfile writes a pprof CPU profile to path until the returned func is called; an
// empty path profiles nothing. stop reports a profile that could not be written out in full.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("-cpuprofile %s: %w", path, err)
		}
		return nil
	}, nil
}

type config struct {
	Consumer    ingest.ConsumerConfig
	LogLevel    slog.Level
	CPUProfile  string
	MemoryLimit int64 // the Go runtime's soft memory limit, bytes; 0: none
}

// DefaultMemoryLimit is the consumer's soft memory limit: the Go heap of `make bench` (5M events,
// the landed-event index at its 2M ids) lives at about 160 MB, and without a limit the collector
// lets it grow to twice that before it runs.
const DefaultMemoryLimit = 256 << 20

// parseBytes reads a size such as 256MiB, 1GiB, 300000000 or 0 (GOMEMLIMIT's suffixes).
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("want a size such as 256MiB, 1GiB or 0 (no limit)")
	}
	return n * mult, nil
}

const usageLine = "usage: spacepulse-consumer [flags]"

// flags binds c's settings to the consumer's flags and their SPACEPULSE_* variables; Parse
// validates them.
func flags(c *config) *cli.FlagSet {
	fs := cli.New("spacepulse-consumer")
	fs.Hint = "migrations: spacepulse-migrate"
	k, p := &c.Consumer, &c.Consumer.Pipeline
	fs.Kafka(&k.Kafka, ingest.DefaultBrokers)
	fs.StringVar(&p.Topic, "kafka-topic", ingest.DefaultTopic, "topic to consume")
	fs.StringVar(&k.Group, "kafka-group", ingest.DefaultGroup, "consumer group id")
	g := &k.GroupClient
	fs.StringVar(&g.InstanceID, "kafka-group-instance-id", "",
		"static group membership (KIP-345): a name unique among the members and kept across restarts, such as a StatefulSet pod's; a member restarted within the session timeout takes its partitions back without a rebalance (default: dynamic)")
	fs.DurationVar(&g.SessionTimeout, "kafka-session-timeout", ingest.DefaultSessionTimeout,
		"how long the broker keeps a member that stopped heartbeating (a killed process) before it moves its partitions; at least the broker's group.min.session.timeout.ms")
	fs.DurationVar(&g.HeartbeatInterval, "kafka-heartbeat-interval", ingest.DefaultHeartbeatInterval, "how often the member heartbeats; at most a third of -kafka-session-timeout")
	fs.DurationVar(&g.RebalanceTimeout, "kafka-rebalance-timeout", ingest.DefaultRebalanceTimeout, "how long the broker waits for every member to rejoin a rebalance")
	fs.DurationVar(&g.MetadataMaxAge, "kafka-metadata-max-age", ingest.DefaultMetadataMaxAge, "how often the topic's metadata is refreshed: partitions added to it are read within about this")
	fs.DurationVar(&g.RevokeWait, "revoke-wait", ingest.DefaultRevokeWait,
		"how long a member whose partitions are revoked waits for their batches in flight to commit before it gives them up")
	fs.DurationVar(&g.LagInterval, "lag-interval", ingest.DefaultLagInterval, "how often the lag is read from the broker (end and committed offsets) for the metrics and /readyz")
	fs.DurationVar(&g.ReadyMaxLag, "ready-max-lag", ingest.DefaultReadyMaxLag, "/readyz answers not ready while the oldest uncommitted message is older than this")
	fs.StringVar(&p.DLQTopic, "dlq-topic", ingest.DefaultDLQTopic, "dead-letter topic for invalid events")
	fs.IntVar(&p.BatchRows, "batch-rows", ingest.DefaultBatchRows, "cut a batch at this many events")
	fs.IntVar(&p.BatchBytes, "batch-bytes", ingest.DefaultBatchBytes, "cut a batch at this many bytes of Kafka values")
	fs.DurationVar(&p.BatchAge, "batch-age", ingest.DefaultBatchAge, "cut a non-empty batch this long after its first event")
	fs.Func("batch-quiet", "cut the batches being filled once Kafka has had nothing more for this long, so that the end of a burst lands at once (default "+
		ingest.DefaultQuietAfter.String()+"; 0: off, cut on -batch-rows, -batch-bytes and -batch-age only)", func(v string) error {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d < 0:
			return fmt.Errorf("%q: want a duration such as 250ms, or 0 to turn it off", v)
		case d == 0:
			p.QuietAfter = -1
		default:
			p.QuietAfter = d
		}
		return nil
	})
	fs.DurationVar(&p.DrainTimeout, "drain-timeout", ingest.DefaultDrainTimeout, "how long the final flush and commit may take on shutdown (the whole shutdown takes at most this plus 8s)")
	fs.BoolVar(&k.Migrate, "migrate", false, "apply the ClickHouse migrations at start (for one consumer on one machine; otherwise run spacepulse-migrate once)")
	fs.StringVar(&k.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; empty: off)")
	fs.DurationVar(&p.DedupWindow, "dedup-window", ingest.DefaultDedupWindow,
		"event time before the newest event whose ids the consumer holds in memory to keep copies out; older events are looked up in ClickHouse")
	fs.IntVar(&p.DedupMaxIDs, "dedup-max-ids", ingest.DefaultDedupMaxIDs,
		"most event ids held in memory (about 30 bytes each); past it the oldest minutes are looked up in ClickHouse instead")
	fs.IntVar(&p.Decoders, "decoders", 0,
		"batchers decoding in parallel, each for a share of the partitions (0: GOMAXPROCS, at most 4)")
	fs.DurationVar(&p.SweepInterval, "sweep-interval", ingest.DefaultSweepInterval,
		"how often the minutes this consumer landed are checked for copies another member of the group landed too (a copy is counted twice for about this long)")
	whflag.Bind(fs, &k.ClickHouse)
	whflag.BindCluster(fs, &k.ClickHouse)
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a Go CPU profile (go tool pprof) to this file until the consumer stops")
	c.MemoryLimit = DefaultMemoryLimit
	fs.Func("memory-limit", "soft limit of the Go heap, e.g. 256MiB (default), 1GiB, 0 for none; the GOMEMLIMIT variable wins if set. Not a cap: the collector works harder near it", func(v string) error {
		n, err := parseBytes(v)
		if err != nil {
			return err
		}
		c.MemoryLimit = n
		return nil
	})
	fs.Check(c.Consumer.Validate)
	return fs
}

// parse reads args and the environment into a config (tests).
func parse(args []string) (config, error) {
	var c config
	err := flags(&c).Parse(args)
	return c, err
}
