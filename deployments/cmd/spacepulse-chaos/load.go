package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/scenario"
	"github.com/spacepulse/spacepulse/schemas"
)

// load replays a scenario through the producer library, paced, and keeps the ground truth of
// what it generated: every event id once and each space's figures (groundtruth.Space). A
// message the producer could not deliver (the broker restarting) is sent again until Kafka
// takes it, as an audio service would: a copy if the failed attempt had landed after all,
// which the contract allows.
type load struct {
	p      *producer.Producer
	ids    map[uuid.UUID]struct{}
	spaces map[string]*groundtruth.Space
	order  []*groundtruth.Space

	mu       sync.Mutex
	failed   []kafka.Message // to send again
	failures int64           // deliveries that failed (OnError calls)
	resent   int64
	queued   int64 // messages handed to the producer, resent ones included
	lastErr  error
}

var _ scenario.Sink = (*load)(nil)

func newLoad(brokers []string, topic string, logger *slog.Logger) (*load, error) {
	l := &load{ids: make(map[uuid.UUID]struct{}), spaces: make(map[string]*groundtruth.Space)}
	p, err := producer.New(producer.Config{Brokers: brokers, Topic: topic, Logger: logger,
		Encoding: producer.Protobuf, Flushers: 4,
		OnError: func(m kafka.Message, err error) {
			l.mu.Lock()
			l.failed = append(l.failed, m)
			l.failures++
			l.lastErr = err
			l.mu.Unlock()
		}})
	if err != nil {
		return nil, err
	}
	l.p = p
	return l, nil
}

// Produce records ev in the truth (the first time its id is seen: the scenario's duplicate
// deliveries are copies) and queues it.
func (l *load) Produce(ctx context.Context, ev *schemas.Event) error {
	if _, seen := l.ids[ev.EventID]; !seen {
		l.ids[ev.EventID] = struct{}{}
		sp := l.spaces[ev.SpaceID]
		if sp == nil {
			sp = groundtruth.NewSpace(ev.SpaceID)
			l.spaces[ev.SpaceID] = sp
			l.order = append(l.order, sp)
		}
		sp.Add(ev)
	}
	if err := l.resend(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	l.queued++
	l.mu.Unlock()
	return l.p.Produce(ctx, ev)
}

// resend queues again the messages whose delivery failed so far.
func (l *load) resend(ctx context.Context) error {
	l.mu.Lock()
	again := l.failed
	l.failed = nil
	l.queued += int64(len(again))
	l.resent += int64(len(again))
	l.mu.Unlock()
	for _, m := range again {
		if err := l.p.ProduceMessage(ctx, m); err != nil {
			return fmt.Errorf("send a message again: %w", err)
		}
	}
	return nil
}

// finish sends again what failed until every message is delivered (or ctx ends), then closes
// the producer.
func (l *load) finish(ctx context.Context) error {
	for {
		if err := l.resend(ctx); err != nil {
			return err
		}
		l.mu.Lock()
		settled := l.p.Sent()+l.failures >= l.queued && len(l.failed) == 0
		l.mu.Unlock()
		if settled {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deliver the load: %d of %d messages acknowledged (last error: %v): %w",
				l.p.Sent(), l.queued, l.lastErr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Everything queued was acknowledged: Close only stops the flushers. Its error counts the
	// attempts that failed and were sent again, which is not a loss.
	var derr *producer.DeliveryError
	if err := l.p.Close(); err != nil && !errors.As(err, &derr) {
		return fmt.Errorf("close the producer: %w", err)
	}
	return nil
}

// Resent is how many messages were sent again after a failed delivery.
func (l *load) Resent() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.resent
}
