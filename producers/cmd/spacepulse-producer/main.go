// Command spacepulse-producer sends events to Kafka.
//
//	spacepulse-producer send [-file events.ndjson]      one JSON event per line, sent as is
//	spacepulse-producer load -events N -rate R -spaces S   a synthetic load
//	spacepulse-producer replay -scenario trump-musk-2024 [-scale 0.01 -seed N -speed 60 -truth F]
//	                                                    a night of producers/scenario/scenarios/
//
// Every flag has an environment equivalent: SPACEPULSE_ + the flag name in
// upper case with - as _ (e.g. -kafka-brokers is SPACEPULSE_KAFKA_BROKERS).
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
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/synth"
)

const usage = `usage: spacepulse-producer send [-file F] | load [-events N -rate R -spaces S] | replay -scenario NAME|FILE.yaml [-scale S -seed N -speed X -truth F] (-h for flags)`

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "send" && os.Args[1] != "load" && os.Args[1] != "replay") {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	cfg, err := parse(cmd, os.Args[2:], io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = parse(cmd, []string{"-h"}, os.Stdout)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spacepulse-producer %s: %v (-h lists the flags)\n", cmd, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cmd, cfg, logger); err != nil {
		logger.Error("producer failed", slog.Any("err", err))
		os.Exit(1)
	}
}

type config struct {
	brokers  string
	topic    string
	encoding string
	file     string
	load     synth.Load
	rate     float64
	replay   replayConfig
}

// parse reads the flags of cmd; usage text goes to out.
func parse(cmd string, args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("spacepulse-producer "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated host:port")
	fs.StringVar(&c.topic, "kafka-topic", "spaces.events", "topic to produce to")
	switch cmd {
	case "send":
		fs.StringVar(&c.file, "file", "-", "NDJSON file of events, - for stdin")
	case "replay":
		c.replay.flags(fs)
		fs.StringVar(&c.encoding, "encoding", "json", "value encoding: json or protobuf")
	case "load":
		fs.StringVar(&c.encoding, "encoding", "json", "value encoding: json or protobuf")
		fs.IntVar(&c.load.Events, "events", 100_000, "number of events")
		fs.IntVar(&c.load.Spaces, "spaces", 3, "number of spaces")
		fs.Uint64Var(&c.load.Seed, "seed", 1, "random seed (same seed, same events)")
		fs.DurationVar(&c.load.Duration, "span", 0, "event time spanned by the load (default 10m)")
		fs.Float64Var(&c.rate, "rate", 0, "events per second to send, 0 for as fast as possible")
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("SPACEPULSE")); err != nil {
		return c, err
	}
	switch {
	case c.brokers == "":
		return c, errors.New("-kafka-brokers is empty: give host:port of a broker (SPACEPULSE_KAFKA_BROKERS)")
	case c.topic == "":
		return c, errors.New("-kafka-topic is empty: name the topic (SPACEPULSE_KAFKA_TOPIC)")
	case cmd == "replay":
		if err := c.replay.check(); err != nil {
			return c, err
		}
	}
	switch {
	case c.encoding != "" && c.encoding != "json" && c.encoding != "protobuf":
		return c, fmt.Errorf("-encoding %q: want json or protobuf", c.encoding)
	case cmd == "load" && c.load.Events <= 0:
		return c, fmt.Errorf("-events %d: want a positive number of events", c.load.Events)
	case cmd == "load" && c.rate < 0:
		return c, fmt.Errorf("-rate %g: want events per second, or 0 for as fast as possible", c.rate)
	}
	return c, nil
}

func run(ctx context.Context, cmd string, c config, logger *slog.Logger) error {
	if cmd == "replay" && c.replay.printScenario {
		return printScenario(c.replay.scenario)
	}
	pc := producer.Config{Brokers: strings.Split(c.brokers, ","), Topic: c.topic, Logger: logger}
	if c.encoding == "protobuf" {
		pc.Encoding = producer.Protobuf
	}
	p, err := producer.New(pc)
	if err != nil {
		return err
	}
	var n int64
	switch cmd {
	case "send":
		n, err = send(ctx, p, c.file)
	case "replay":
		n, err = replay(ctx, p, c.replay, logger)
	default:
		n, err = producer.SendLoad(ctx, p, c.load, c.rate)
	}
	if cerr := p.Close(); cerr != nil && err == nil {
		err = cerr
	}
	logger.Info("done", slog.Int64("queued", n), slog.Int64("delivered", p.Sent()), slog.Int64("failed", p.Failed()))
	return err
}
