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
	"runtime/pprof"
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
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "spacepulse-consumer: %v\n", err)
		os.Exit(2)
	}
	err = ingest.RunConsumer(ctx, cfg.Consumer, logger)
	if perr := stopProfile(); perr != nil {
		logger.Error("cpu profile incomplete", slog.Any("err", perr))
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
	Consumer   ingest.ConsumerConfig
	LogLevel   slog.Level
	CPUProfile string
}

func flags(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("spacepulse-consumer", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by main
	c.Consumer.BindFlags(fs)
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a Go CPU profile (go tool pprof) to this file until the consumer stops")
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
