// Command spacepulse-bench measures the pipeline end to end on this machine:
// it pre-produces -events JSON events (the synthetic load, ~290 bytes each)
// into an embedded Kafka broker (kfake, in this process, -partitions
// partitions, LZ4), runs the real spacepulse-consumer binary as a subprocess
// against it and a fresh ClickHouse database, and times it from start until
// every message is committed. It prints the events per second, the
// consumer's CPU seconds and peak RSS (from its rusage), and, measured in the
// same run, the rate of ClickHouse's own columnar insert of the same rows
// (ingest.Sink, no Kafka) into another fresh database: the ceiling for the
// pipeline here. Targets are printed beside what was reached; missing one is
// reported, not failed.
//
// It uses the databases spacepulse_bench and spacepulse_bench_direct, drops
// and recreates them, and drops them at the end (-keep leaves them).
// ClickHouse must already run (deployments/local/clickhouse.sh start; make
// bench does it).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/whflag"
)

// Targets of the pipeline (issue "exact at write time"), printed beside what was reached.
const (
	TargetEventsPerSecond  = 400_000
	TargetPeakRSSBytes     = 300_000_000
	TargetConsumerCPUPerEv = 1.5  // µs
	TargetServerCPUPerEv   = 2.5  // µs, ClickHouse during the pipeline run
	TargetShareOfDirect    = 0.60 // of ClickHouse's own insert of the same rows
)

// The scratch databases, dropped and recreated.
const (
	benchDatabase  = "spacepulse_bench"
	directDatabase = "spacepulse_bench_direct"
)

type config struct {
	Events      int
	Partitions  int
	BatchRows   int
	Seed        uint64
	ConsumerBin string
	ConsumerLog string
	ConsumerEnv []string
	Timeout     time.Duration
	Keep        bool
	SkipDirect  bool
	ClickHouse  warehouse.Config
}

func main() {
	if os.Getenv(launchEnv) == "1" {
		launchMain() // this process is the consumer's launcher; see consumer
		return
	}
	var cfg config
	fs := flags(&cfg)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fs.Exit(err, "usage: spacepulse-bench [-events N] [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(ctx, cfg, logger, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "spacepulse-bench:", err)
		os.Exit(1)
	}
}

// parse reads args and the environment into a config (tests).
func parse(args []string) (config, error) {
	var c config
	err := flags(&c).Parse(args)
	return c, err
}

// flags binds the bench's settings to its flags and their SPACEPULSE_* variables; it chooses
// its own databases, so it has no -clickhouse-database.
func flags(c *config) *cli.FlagSet {
	fs := cli.New("spacepulse-bench")
	fs.IntVar(&c.Events, "events", 5_000_000, "events to ingest")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions of the embedded topic")
	fs.IntVar(&c.BatchRows, "batch-rows", ingest.DefaultBatchRows, "rows per ClickHouse insert (the consumer's -batch-rows, and the direct insert's block)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the synthetic load")
	fs.StringVar(&c.ConsumerBin, "consumer-bin", "", "spacepulse-consumer binary to run (default: go build ./consumers/cmd/spacepulse-consumer into a temporary directory)")
	fs.StringVar(&c.ConsumerLog, "consumer-log", "", "also write the consumer's stderr to this file (e.g. with GODEBUG=gctrace=1)")
	fs.Func("consumer-env", "set KEY=VALUE in the consumer's environment, e.g. GOMEMLIMIT=250MiB (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("%q: want KEY=VALUE", v)
		}
		c.ConsumerEnv = append(c.ConsumerEnv, v)
		return nil
	})
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "give up if the consumer has not committed everything by then")
	fs.BoolVar(&c.Keep, "keep", false, "keep the bench databases "+benchDatabase+" and "+directDatabase+" at the end")
	fs.BoolVar(&c.SkipDirect, "skip-direct", false, "skip the direct ClickHouse insert")
	whflag.BindServer(fs, &c.ClickHouse)
	c.ClickHouse.Database = benchDatabase
	fs.Check(c.check)
	return fs
}

// check reports the first setting that cannot work.
func (c *config) check() error {
	switch {
	case c.Events < 1_000 || c.Events > 100_000_000:
		return fmt.Errorf("-events %d: want 1,000 to 100,000,000", c.Events)
	case c.Partitions < 1 || c.Partitions > 1024:
		return fmt.Errorf("-partitions %d: want 1 to 1024", c.Partitions)
	case c.BatchRows < 1 || c.BatchRows > 10_000_000:
		return fmt.Errorf("-batch-rows %d: want 1 to 10,000,000", c.BatchRows)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout %s: want a positive duration", c.Timeout)
	}
	return nil
}
