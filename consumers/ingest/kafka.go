package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// KafkaOpts are the franz-go options that reach k: its TLS and SASL (the group reader's seed
// brokers are NewGroupReader's). k must be valid (endpoint.Kafka.Validate).
func KafkaOpts(k endpoint.Kafka) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	tlsCfg, err := k.TLS.Config("kafka")
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	var mech sasl.Mechanism
	switch strings.ToUpper(k.SASL.Mechanism) {
	case endpoint.Plain:
		mech = plain.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsMechanism()
	case endpoint.ScramSHA256:
		mech = scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha256Mechanism()
	case endpoint.ScramSHA512:
		mech = scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha512Mechanism()
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// KafkaGoTransport is the segmentio/kafka-go transport that reaches k (for the dead-letter
// writer). k must be valid.
func KafkaGoTransport(k endpoint.Kafka) (*kafka.Transport, error) {
	tlsCfg, err := k.TLS.Config("kafka")
	if err != nil {
		return nil, err
	}
	mech, err := k.SASL.KafkaGoSASL()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{TLS: tlsCfg, SASL: mech}, nil
}

// KafkaGoDialer is the segmentio/kafka-go dialer that reaches k (for reading a message back by
// its offset: Originals). k must be valid.
func KafkaGoDialer(k endpoint.Kafka) (*kafka.Dialer, error) {
	tr, err := KafkaGoTransport(k)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tr.TLS, SASLMechanism: tr.SASL}, nil
}

// NewDLQWriter returns the dead-letter writer: acks from all in-sync replicas, synchronous,
// LZ4, record batches under 1 MB (Kafka's default max.message.bytes), topic created if the
// broker allows it; plain TCP without SASL unless its Transport is set (KafkaGoTransport).
func NewDLQWriter(brokers []string, topic string, logger *slog.Logger) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              10_000,
		BatchBytes:             dlqBatchBytes,
		BatchTimeout:           10 * time.Millisecond,
		Compression:            compress.Lz4,
		MaxAttempts:            5,
		AllowAutoTopicCreation: true,
		Logger:                 kafkaLogger(logger, slog.LevelDebug),
		ErrorLogger:            kafkaLogger(logger, slog.LevelWarn),
	}
}

// kafkaRefused returns err as an endpoint.ErrRefused error when k's settings are what the broker
// (or our check of its certificate) refused, else nil: k.Refused, plus franz-go's errors.
func kafkaRefused(k endpoint.Kafka, err error) error {
	if r := k.Refused(err); r != nil {
		return r
	}
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return k.RefusedSASL(err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return k.RefusedMechanism(err)
	case errors.Is(err, kerr.IllegalSaslState):
		return k.RefusedNoSASL(err)
	}
	return nil
}

// waitForKafka pings the brokers until one answers or ctx ends, so that a consumer started
// before Kafka waits for it; settings the brokers refuse end the wait at once (kafkaRefused).
//
// A broker that closes the connection right after the dial three times in a row is taken as a
// refusal too (kgo.ErrFirstReadEOF: TLS spoken to a plain listener, or the reverse); once could
// be a broker restarting.
func waitForKafka(ctx context.Context, k endpoint.Kafka, ping func(context.Context) error, logger *slog.Logger) error {
	backoff := 100 * time.Millisecond
	closed := 0
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if r := kafkaRefused(k, err); r != nil {
			return r
		}
		if first := (*kgo.ErrFirstReadEOF)(nil); errors.As(err, &first) {
			if closed++; closed == 3 {
				return k.RefusedClosed(err)
			}
		} else {
			closed = 0
		}
		logger.Warn("kafka not reachable yet; retrying", slog.String("brokers", strings.Join(k.Brokers, ",")), slog.Any("err", err), slog.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for kafka %s: %w (last error: %v)", strings.Join(k.Brokers, ","), ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
