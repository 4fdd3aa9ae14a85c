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
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
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

func flags(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("spacepulse-consumer", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by main
	c.Consumer.BindFlags(fs)
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a Go CPU profile (go tool pprof) to this file until the consumer stops")
	c.MemoryLimit = DefaultMemoryLimit
	fs.Func("memory-limit", "soft limit of the Go heap, e.g. 256MiB (default), 1GiB, 0 for none; the GOMEMLIMIT variable wins if set. Not a cap: the collector works harder near it", func(v string) error {
		n, err := parseBytes(v)
		if err != nil {
			return fmt.Errorf("-memory-limit %q: %w (SPACEPULSE_MEMORY_LIMIT)", v, err)
		}
		c.MemoryLimit = n
		return nil
	})
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
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: the consumer takes flags only (migrations: spacepulse-migrate)", fs.Arg(0))
	}
	return c, c.Consumer.Validate()
}
