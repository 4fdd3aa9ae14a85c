// Command spacepulse-consumer reads events from a Kafka consumer group and
// inserts them into ClickHouse; invalid events go to the dead-letter topic.
// Every flag has an environment equivalent: SPACEPULSE_ + the flag name in
// upper case with - as _ (e.g. -kafka-brokers is SPACEPULSE_KAFKA_BROKERS).
// A wrong flag exits 2 with one line saying what to change.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"

	"github.com/spacepulse/spacepulse/consumers/ingest"
)

func main() {
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		usage(os.Stdout)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spacepulse-consumer: %v (-h lists the flags)\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := ingest.RunConsumer(ctx, cfg.Consumer, logger); err != nil {
		logger.Error("consumer stopped", slog.Any("err", err))
		os.Exit(1)
	}
}

type config struct {
	Consumer ingest.ConsumerConfig
	LogLevel slog.Level
}

func flags(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("spacepulse-consumer", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by main
	c.Consumer.BindFlags(fs)
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	return fs
}

func usage(w io.Writer) {
	fs := flags(&config{})
	fs.SetOutput(w)
	fmt.Fprintln(w, "usage: spacepulse-consumer [flags]; each flag also reads SPACEPULSE_<FLAG> (e.g. SPACEPULSE_KAFKA_BROKERS)")
	fs.PrintDefaults()
}

func parse(args []string) (config, error) {
	var c config
	fs := flags(&c)
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("SPACEPULSE")); err != nil {
		return c, err
	}
	return c, c.Consumer.Validate()
}
