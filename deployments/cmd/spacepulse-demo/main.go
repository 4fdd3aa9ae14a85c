// Command spacepulse-demo runs the whole pipeline on this machine in well
// under a minute: an embedded Kafka broker (kfake, in this process), the
// consumer (consumers/ingest, in this process), a synthetic load sent through
// the producer library — a few invalid messages and duplicate deliveries
// included — and ClickHouse, which must already run
// (deployments/local/clickhouse.sh start; make demo does it). It then prints
// each space's figures from ClickHouse (sql/warehouse) and checks every one
// against the ground truth computed from the generated events, exiting 1 on
// any mismatch.
//
// The database (-clickhouse-database, default spacepulse_demo) is dropped
// and recreated at every start so that runs are repeatable; it is left in
// place afterwards for spacepulse-report and clickhouse-client. Unlike the
// other commands the demo does not read SPACEPULSE_CLICKHOUSE_DATABASE: it
// drops the database it is given, so it only takes one from its flag, and it
// refuses to drop a database holding tables spacepulse does not create.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// DefaultDatabase is the scratch database the demo drops and recreates.
const DefaultDatabase = "spacepulse_demo"

type config struct {
	Events     int
	Spaces     int
	Seed       uint64
	Partitions int
	DupEvery   int
	BatchRows  int
	BatchAge   time.Duration
	Timeout    time.Duration
	Verbose    bool
	ClickHouse warehouse.Config
}

func main() {
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "spacepulse-demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if cfg.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ok, err := run(ctx, cfg, logger, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spacepulse-demo:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func parse(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("spacepulse-demo", flag.ContinueOnError)
	fs.IntVar(&c.Events, "events", 200_000, "synthetic events to send")
	fs.IntVar(&c.Spaces, "spaces", 3, "spaces the events are spread over")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the synthetic load")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions of the embedded topics")
	fs.IntVar(&c.DupEvery, "dup-every", 2_000, "deliver every n-th event a second time (0: never)")
	fs.IntVar(&c.BatchRows, "batch-rows", ingest.DefaultBatchRows, "consumer: cut a batch at this many events")
	fs.DurationVar(&c.BatchAge, "batch-age", 250*time.Millisecond, "consumer: cut a non-empty batch this long after its first event")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Minute, "give up if the consumer has not committed everything by then")
	fs.BoolVar(&c.Verbose, "v", false, "log the consumer at info level")
	c.ClickHouse.BindFlags(fs)
	// The demo drops its database: never take it from the environment.
	c.ClickHouse.Database = DefaultDatabase
	fs.Lookup("clickhouse-database").DefValue = DefaultDatabase
	fs.Lookup("clickhouse-database").Usage = "scratch database, dropped and recreated at start (the environment is ignored)"
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; -h lists them)", fs.Arg(0))
	}
	switch {
	case c.Events < 1_000 || c.Events > 10_000_000:
		return c, fmt.Errorf("-events %d: want 1,000 to 10,000,000", c.Events)
	case c.Spaces < 1 || c.Spaces > 100:
		return c, fmt.Errorf("-spaces %d: want 1 to 100", c.Spaces)
	case c.Partitions < 1 || c.Partitions > 1024:
		return c, fmt.Errorf("-partitions %d: want 1 to 1024", c.Partitions)
	case c.DupEvery < 0:
		return c, fmt.Errorf("-dup-every %d: want 0 (no duplicates) or more", c.DupEvery)
	case c.BatchRows < 1 || c.BatchAge <= 0 || c.Timeout <= 0:
		return c, errors.New("-batch-rows, -batch-age and -timeout must be positive")
	}
	return c, c.ClickHouse.Validate()
}
