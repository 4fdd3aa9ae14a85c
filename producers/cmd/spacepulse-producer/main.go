// Command spacepulse-producer sends events to Kafka.
//
//	spacepulse-producer send [-file events.ndjson]      one JSON event per line, sent as is
//	spacepulse-producer load -events N -rate R -spaces S   a synthetic load
//	spacepulse-producer replay -scenario trump-musk-2024 [-scale 0.01 -seed N -speed 60 -truth F]
//	                                                    a night of producers/scenario/scenarios/
//
// Every flag has an environment equivalent: SPACEPULSE_ + the flag name in
// upper case with - as _ (e.g. -kafka-brokers is SPACEPULSE_KAFKA_BROKERS); the
// SASL password also comes from a file (-kafka-sasl-password-file). Exit status:
// 0 done, 1 failed, 2 a wrong command or flag, or settings the brokers refused
// (a certificate, a password), with one line saying what to change.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"slices"
	"time"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

const usage = `usage: spacepulse-producer send [-file F] | load [-events N -rate R -spaces S] | replay -scenario NAME|FILE.yaml [-scale S -seed N -speed X -truth F] (-h for flags)`

// commands are the words spacepulse-producer knows.
var commands = []string{"send", "load", "replay"}

func main() {
	if len(os.Args) < 2 || !slices.Contains(commands, os.Args[1]) {
		fmt.Fprintf(os.Stderr, "spacepulse-producer: %s (-h after it lists its flags)\n", unknownCommand(os.Args[1:]))
		os.Exit(2)
	}
	cmd := os.Args[1]
	var cfg config
	fs := flags(cmd, &cfg)
	if err := fs.Parse(os.Args[2:]); err != nil {
		fs.Exit(err, usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := run(ctx, cmd, cfg, logger)
	if errors.Is(err, endpoint.ErrRefused) {
		fs.Exit(err, usage) // a setting to change, not an outage: exit 2
	}
	if err != nil {
		logger.Error("producer failed", slog.Any("err", err))
		os.Exit(1)
	}
}

// unknownCommand says which word to type instead of args[0] (none given, or one it does not know).
func unknownCommand(args []string) string {
	if len(args) == 0 {
		return "which command? want send, load or replay"
	}
	if near := cli.Nearest(args[0], commands); near != "" {
		return fmt.Sprintf("unknown command %q: did you mean %s? (want send, load or replay)", args[0], near)
	}
	return fmt.Sprintf("unknown command %q: want send, load or replay", args[0])
}

type config struct {
	kafka    endpoint.Kafka
	topic    string
	encoding string
	file     string
	load     synth.Load
	rate     float64
	replay   replayConfig
}

// flags binds the settings of cmd to its flags and their SPACEPULSE_* variables.
func flags(cmd string, c *config) *cli.FlagSet {
	fs := cli.New("spacepulse-producer " + cmd)
	fs.Kafka(&c.kafka, "127.0.0.1:9092")
	fs.StringVar(&c.topic, "kafka-topic", "spaces.events", "topic to produce to")
	switch cmd {
	case "send":
		fs.StringVar(&c.file, "file", "-", "NDJSON file of events, - for stdin")
	case "replay":
		c.replay.flags(fs.FlagSet)
		fs.StringVar(&c.encoding, "encoding", "json", "value encoding: json or protobuf")
	case "load":
		fs.StringVar(&c.encoding, "encoding", "json", "value encoding: json or protobuf")
		fs.IntVar(&c.load.Events, "events", 100_000, "number of events")
		fs.IntVar(&c.load.Spaces, "spaces", 3, "number of spaces")
		fs.Uint64Var(&c.load.Seed, "seed", 1, "random seed (same seed, same events)")
		fs.DurationVar(&c.load.Duration, "span", 0, "event time spanned by the load (default 10m)")
		fs.Float64Var(&c.rate, "rate", 0, "events per second to send, 0 for as fast as possible")
	}
	fs.Check(func() error { return c.check(cmd) })
	return fs
}

// check reports the first setting of cmd that cannot work.
func (c *config) check(cmd string) error {
	switch {
	case c.topic == "":
		return errors.New("-kafka-topic is empty: name the topic (SPACEPULSE_KAFKA_TOPIC)")
	case cmd == "replay":
		if err := c.replay.check(); err != nil {
			return err
		}
	}
	switch {
	case c.encoding != "" && c.encoding != "json" && c.encoding != "protobuf":
		return fmt.Errorf("-encoding %q: want json or protobuf (SPACEPULSE_ENCODING)", c.encoding)
	case cmd == "load" && c.load.Events <= 0:
		return fmt.Errorf("-events %d: want a positive number of events (SPACEPULSE_EVENTS)", c.load.Events)
	case cmd == "load" && c.rate < 0:
		return fmt.Errorf("-rate %g: want events per second, or 0 for as fast as possible (SPACEPULSE_RATE)", c.rate)
	}
	return nil
}

// parse reads the flags of cmd (tests).
func parse(cmd string, args []string) (config, error) {
	var c config
	err := flags(cmd, &c).Parse(args)
	return c, err
}

func run(ctx context.Context, cmd string, c config, logger *slog.Logger) error {
	if cmd == "replay" && c.replay.printScenario {
		return printScenario(c.replay.scenario)
	}
	pc := producer.Config{Brokers: c.kafka.Brokers, Topic: c.topic, Logger: logger}
	var err error
	if pc.TLS, err = c.kafka.TLS.Config("kafka"); err != nil {
		return err
	}
	if pc.SASL, err = c.kafka.SASL.KafkaGoSASL(); err != nil {
		return err
	}
	if c.encoding == "protobuf" {
		pc.Encoding = producer.Protobuf
	}
	p, err := producer.New(pc)
	if err != nil {
		return err
	}
	// Fail fast on settings the brokers refuse, before anything is buffered.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = p.Ping(pctx)
	cancel()
	if r := c.kafka.Refused(err); r != nil {
		_ = p.Close()
		return r
	}
	if errors.Is(err, producer.ErrNoTopic) {
		_ = p.Close()
		return endpoint.NewRefused("kafka "+strings.Join(c.kafka.Brokers, ","),
			"create the topic first (kafka-topics.sh --create --topic "+c.topic+" --partitions N), or check -kafka-topic", err)
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
