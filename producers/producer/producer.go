// Package producer is the library an audio service embeds to emit events to
// Kafka. Produce is asynchronous and batched, with a bounded buffer: it blocks
// when the buffer is full (TryProduce fails fast with ErrBufferFull instead).
// Events are keyed by session_id (Murmur2, as Java clients do, so a session's
// events stay in one partition whoever produces them), written with acks from
// all in-sync replicas and LZ4 compression. No event is lost silently: every
// delivery failure is passed to Config.OnError and counted, and Close
// flushes the buffer and returns a *DeliveryError if any event failed.
package producer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/spacepulse/spacepulse/schemas"
)

// ErrBufferFull is returned by TryProduce when the buffer holds Config.Buffer
// events: the brokers are slower than the service, or unreachable.
var ErrBufferFull = errors.New("producer buffer full: Kafka is not keeping up (raise Config.Buffer or slow down)")

// ErrClosed is returned by Produce after Close.
var ErrClosed = errors.New("producer closed")

// DeliveryError is returned by Close when some events were not delivered.
type DeliveryError struct {
	Failed int64 // events Kafka did not acknowledge
	First  error // the first failure
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("%d events were not delivered; first failure: %v", e.Failed, e.First)
}

func (e *DeliveryError) Unwrap() error { return e.First }

// Encoding is the wire form of the values.
type Encoding int

// Encodings.
const (
	JSON Encoding = iota
	Protobuf
)

// Config configures a Producer. The zero value of a field means its default.
type Config struct {
	Brokers []string // bootstrap brokers, host:port (required)
	Topic   string   // default "spaces.events"

	Encoding Encoding // JSON (default) or Protobuf

	// Buffer is how many events may wait for delivery (default 100,000).
	Buffer int
	// BatchSize, BatchBytes and Linger bound one write to Kafka
	// (defaults 10,000 events, 1,000,000 bytes, 10ms). BatchBytes must stay
	// under the broker's message.max.bytes (1,048,588 by default, on Apache
	// Kafka and on the embedded broker alike): a larger batch is refused
	// whole with "Message Size Too Large".
	BatchSize  int
	BatchBytes int64
	Linger     time.Duration
	// Flushers is how many batches may be in flight at once (default 4).
	Flushers int
	// MaxAttempts is how often a write is tried before its events count as
	// failed (default 10).
	MaxAttempts int
	// WriteTimeout bounds one write attempt (default 10s).
	WriteTimeout time.Duration

	// OnError is called, from a flusher goroutine, once for every message
	// that could not be delivered. It must not block for long.
	OnError func(m kafka.Message, err error)
	// Logger receives the producer's logs (default slog.Default()).
	Logger *slog.Logger

	// TLS, when set, connects to the brokers over TLS (their SSL or SASL_SSL listener).
	TLS *tls.Config
	// SASL, when set, authenticates with this mechanism (kafka-go's sasl/plain or sasl/scram;
	// endpoint.SASL.KafkaGoSASL builds it from a mechanism name, a user and a password).
	SASL sasl.Mechanism

	// Balancer overrides the partitioner (default Murmur2 on the key).
	Balancer kafka.Balancer
	// Transport overrides kafka-go's transport (tests); TLS and SASL then go unused.
	Transport kafka.RoundTripper
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = "spaces.events"
	}
	if c.Buffer <= 0 {
		c.Buffer = 100_000
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 10_000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1_000_000
	}
	if c.Linger <= 0 {
		c.Linger = 10 * time.Millisecond
	}
	if c.Flushers <= 0 {
		c.Flushers = 4
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Balancer == nil {
		c.Balancer = &kafka.Murmur2Balancer{}
	}
}

// Producer sends events to Kafka. It is safe for concurrent use.
type Producer struct {
	cfg          Config
	w            *kafka.Writer
	ownTransport *kafka.Transport // made by New when Config.Transport is nil; closed by Close
	buf          chan kafka.Message
	wg           sync.WaitGroup
	once         sync.Once

	mu     sync.RWMutex // guards closed against sends on a closed buf
	closed bool

	encoders sync.Pool

	sent, failed atomic.Int64
	firstErr     atomic.Pointer[error]
}

// New starts a producer; Close stops it.
func New(cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("producer: no brokers: set Config.Brokers (host:port)")
	}
	cfg.setDefaults()
	p := &Producer{cfg: cfg, buf: make(chan kafka.Message, cfg.Buffer)}
	p.encoders.New = func() any { return new(schemas.JSONEncoder) }
	if cfg.Transport == nil {
		// A transport of its own: kafka-go's shared default caches topic metadata for the
		// process, so a second producer to a topic created since then got "Unknown Topic Or
		// Partition" until the cache expired.
		tr := &kafka.Transport{TLS: cfg.TLS, SASL: cfg.SASL}
		cfg.Transport, p.ownTransport = tr, tr
	}
	p.w = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     cfg.Balancer,
		RequiredAcks: kafka.RequireAll,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: time.Millisecond, // our flushers batch; the Writer need not linger again
		Compression:  compress.Lz4,
		MaxAttempts:  cfg.MaxAttempts,
		WriteTimeout: cfg.WriteTimeout,
		Transport:    cfg.Transport,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			cfg.Logger.Warn("kafka client", slog.String("detail", fmt.Sprintf(msg, args...)))
		}),
	}
	for range cfg.Flushers {
		p.wg.Add(1)
		go p.flusher()
	}
	return p, nil
}

// Ping asks the brokers for the topic's metadata: nil once they answer, else the error
// (unreachable, or settings refused: a certificate, a password). Produce does not need it; a
// service calls it at start to fail fast on a wrong setting instead of buffering events.
func (p *Producer) Ping(ctx context.Context) error {
	c := &kafka.Client{Addr: p.w.Addr, Transport: p.w.Transport}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.cfg.Topic}})
	if err != nil {
		return fmt.Errorf("ask kafka %s for topic %s: %w", p.w.Addr, p.cfg.Topic, err)
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("topic %s on kafka %s: %w", p.cfg.Topic, p.w.Addr, t.Error)
		}
	}
	return nil
}

// ErrNoTopic matches the error of Ping (and of every delivery) when the topic does not exist:
// the producer never creates topics (their partitions and replication are the operator's choice).
var ErrNoTopic = kafka.UnknownTopicOrPartition

// Message encodes ev as a Kafka message (key session_id, content-type
// header) after validating it. A zero EventID is filled with a new UUIDv7.
func (p *Producer) Message(ev *schemas.Event) (kafka.Message, error) {
	return encode(ev, p.cfg.Encoding, &p.encoders)
}

// Produce validates ev and queues it, blocking while the buffer is full. It
// returns a schemas.ErrInvalid error for an invalid event, ctx.Err() if ctx
// ends first, or ErrClosed.
func (p *Producer) Produce(ctx context.Context, ev *schemas.Event) error {
	m, err := p.Message(ev)
	if err != nil {
		return err
	}
	return p.ProduceMessage(ctx, m)
}

// TryProduce is Produce that never blocks: ErrBufferFull when full.
func (p *Producer) TryProduce(ev *schemas.Event) error {
	m, err := p.Message(ev)
	if err != nil {
		return err
	}
	return p.TryProduceMessage(m)
}

// ProduceMessage queues an already encoded message as it is (tools that
// forward values, valid or not, use it); it blocks while the buffer is full.
func (p *Producer) ProduceMessage(ctx context.Context, m kafka.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.buf <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryProduceMessage is ProduceMessage that never blocks.
func (p *Producer) TryProduceMessage(m kafka.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.buf <- m:
		return nil
	default:
		return ErrBufferFull
	}
}

// Buffered is the number of events waiting for a flusher.
func (p *Producer) Buffered() int { return len(p.buf) }

// Sent is the number of events Kafka acknowledged.
func (p *Producer) Sent() int64 { return p.sent.Load() }

// Failed is the number of events that could not be delivered.
func (p *Producer) Failed() int64 { return p.failed.Load() }

// Close stops accepting events, delivers everything buffered and waits for
// it. It returns a *DeliveryError if any event failed since New.
func (p *Producer) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.buf)
		p.mu.Unlock()
		p.wg.Wait()
		if err := p.w.Close(); err != nil {
			p.cfg.Logger.Warn("close kafka writer", slog.Any("err", err))
		}
		if p.ownTransport != nil {
			p.ownTransport.CloseIdleConnections()
		}
	})
	if n := p.failed.Load(); n > 0 {
		return &DeliveryError{Failed: n, First: *p.firstErr.Load()}
	}
	return nil
}

// flusher collects up to BatchSize messages or Linger, writes them, and
// reports each failure.
func (p *Producer) flusher() {
	defer p.wg.Done()
	batch := make([]kafka.Message, 0, p.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		m, ok := <-p.buf
		if !ok {
			return
		}
		batch = append(batch[:0], m)
		timer.Reset(p.cfg.Linger)
	collect:
		for len(batch) < p.cfg.BatchSize {
			select {
			case m, ok := <-p.buf:
				if !ok {
					break collect
				}
				batch = append(batch, m)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		p.write(batch)
	}
}

func (p *Producer) write(batch []kafka.Message) {
	// Background context: a flush that was accepted is finished even while
	// the service shuts down; MaxAttempts and WriteTimeout bound it.
	err := p.w.WriteMessages(context.Background(), batch...)
	if err == nil {
		p.sent.Add(int64(len(batch)))
		return
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(batch) {
		for i, e := range werrs {
			if e == nil {
				p.sent.Add(1)
				continue
			}
			p.fail(batch[i], e)
		}
		return
	}
	for _, m := range batch {
		p.fail(m, err)
	}
}

func (p *Producer) fail(m kafka.Message, err error) {
	err = fmt.Errorf("deliver event to %s: %w", p.cfg.Topic, err)
	p.failed.Add(1)
	p.firstErr.CompareAndSwap(nil, &err)
	if p.cfg.OnError != nil {
		p.cfg.OnError(m, err)
	}
}
