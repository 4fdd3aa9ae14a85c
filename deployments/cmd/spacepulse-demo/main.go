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
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/whflag"
)

// DefaultDatabase is the scratch database the demo drops and recreates.
const DefaultDatabase = "spacepulse_demo"

// DefaultScale replays every listener of the night (9.0M events for
// trump-musk-2024, about 80 s on a 2-core machine); -scale 0.1 takes a tenth.
const DefaultScale = 1

type config struct {
	Scenario   string  // a scenario name or YAML path; "synthetic" for the synthetic load
	Scale      float64 // scenario scale (1 = the real night)
	Brokers    string  // a real Kafka cluster instead of the embedded broker
	Topic      string
	OutDir     string // where the pictures go
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
	var cfg config
	fs := flags(&cfg)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fs.Exit(err, "usage: spacepulse-demo [-scenario NAME] [-scale S] [flags]; flags only, no SPACEPULSE_* variables")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// kafka-go logs recoverable fetch timeouts at warn; the demo shows errors only.
	level := slog.LevelError
	if cfg.Verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	topic, dlqTopic, group = cfg.Topic, cfg.Topic+".dlq", "spacepulse-demo-"+cfg.Topic
	demo := runNight
	if cfg.Scenario == "synthetic" {
		demo = run
	}
	ok, err := demo(ctx, cfg, logger, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spacepulse-demo:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// parse reads args into a config (tests).
func parse(args []string) (config, error) {
	var c config
	err := flags(&c).Parse(args)
	return c, err
}

// flags binds the demo's settings to its flags; it reads no SPACEPULSE_* variable (cli.NoEnv).
func flags(c *config) *cli.FlagSet {
	fs := cli.New("spacepulse-demo")
	fs.NoEnv = true
	fs.StringVar(&c.Scenario, "scenario", "trump-musk-2024",
		"night to replay: trump-musk-2024, desantis-2023, stress-8m, a scenario YAML file, or synthetic")
	fs.Float64Var(&c.Scale, "scale", DefaultScale, "scenario scale: 1 replays the real night, 0.1 a tenth of its listeners")
	fs.StringVar(&c.OutDir, "out", ".run/demo", "folder for the pictures of the night")
	fs.StringVar(&c.Brokers, "kafka-brokers", "", "use this Kafka cluster (host:port,…) instead of the embedded broker")
	fs.StringVar(&c.Topic, "kafka-topic", ingest.DefaultTopic,
		"topic to create and use (with -kafka-brokers it must not exist yet; the DLQ is <topic>.dlq)")
	fs.IntVar(&c.Events, "events", 200_000, "synthetic events to send (-scenario synthetic)")
	fs.IntVar(&c.Spaces, "spaces", 3, "spaces the events are spread over")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the synthetic load")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions of the embedded topics")
	fs.IntVar(&c.DupEvery, "dup-every", 2_000, "deliver every n-th event a second time (0: never)")
	fs.IntVar(&c.BatchRows, "batch-rows", ingest.DefaultBatchRows, "consumer: cut a batch at this many events")
	fs.DurationVar(&c.BatchAge, "batch-age", 250*time.Millisecond, "consumer: cut a non-empty batch this long after its first event")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "give up if the consumer has not committed everything by then")
	fs.BoolVar(&c.Verbose, "v", false, "log the consumer at info level")
	whflag.Bind(fs, &c.ClickHouse)
	c.ClickHouse.Database = DefaultDatabase
	fs.Lookup("clickhouse-database").DefValue = DefaultDatabase
	fs.Lookup("clickhouse-database").Usage = "scratch database, dropped and recreated at start"
	fs.Check(c.check)
	return fs
}

// check reports the first setting that cannot work.
func (c *config) check() error {
	switch {
	case c.Scale <= 0 || c.Scale > 1:
		return fmt.Errorf("-scale %g: want a share of the real night, above 0 and at most 1", c.Scale)
	case c.Events < 1_000 || c.Events > 10_000_000:
		return fmt.Errorf("-events %d: want 1,000 to 10,000,000", c.Events)
	case c.Spaces < 1 || c.Spaces > 100:
		return fmt.Errorf("-spaces %d: want 1 to 100", c.Spaces)
	case c.Partitions < 1 || c.Partitions > 1024:
		return fmt.Errorf("-partitions %d: want 1 to 1024", c.Partitions)
	case c.DupEvery < 0:
		return fmt.Errorf("-dup-every %d: want 0 (no duplicates) or more", c.DupEvery)
	case c.BatchRows < 1 || c.BatchAge <= 0 || c.Timeout <= 0:
		return errors.New("-batch-rows, -batch-age and -timeout must be positive")
	}
	if c.Brokers != "" {
		if _, err := endpoint.ParseBrokers(c.Brokers); err != nil {
			return err
		}
	}
	return nil
}
