package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
)

// sent is what the demo put on the topic.
type sent struct {
	valid, invalid, duplicates int64
	truths                     []*groundtruth.Space // one per space, in the generator's order
	start, end                 time.Time
}

// invalidMessages are the deliberately broken messages the demo mixes into
// the load: each must land in the dead-letter topic, with its reason.
func invalidMessages(now time.Time) []kafka.Message {
	json := []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
	ok := func(extra string) []byte {
		return []byte(`{"event_id":"5d0c3cde-7d0b-4c6e-9a52-3c7e0f7e2b11","kind":"join","ts":` +
			fmt.Sprint(now.UnixMilli()) + `,"space_id":"1YqJDqWLyEMGV","session_id":"1f0e9c3a-2b4d-4e6f-8a1b-9c8d7e6f5a4b",` +
			`"user_id":"1587234098"` + extra + `}`)
	}
	return []kafka.Message{
		{Key: []byte("bad-json"), Value: []byte(`{"event_id":"5d0c3cde-7d0b-4c6e-9a52-3c7e0f7e2b11","kind":"join"`), Headers: json},
		{Key: []byte("bad-kind"), Value: []byte(strings.Replace(string(ok("")), `"kind":"join"`, `"kind":"teleport"`, 1)), Headers: json},
		{Key: []byte("bad-status"), Value: ok(`,"http_status":999`), Headers: json},
		{Key: []byte("no-user"), Value: []byte(strings.Replace(string(ok("")), `,"user_id":"1587234098"`, ``, 1)), Headers: json},
		{Key: []byte("future"), Value: []byte(strings.Replace(string(ok("")), fmt.Sprint(now.UnixMilli()), "4102444800000", 1)), Headers: json},
		{Key: []byte("too-big"), Value: ok(`,"padding":"` + strings.Repeat("x", 70<<10) + `"`), Headers: json},
		{Key: []byte("bad-type"), Value: ok(""), Headers: []kafka.Header{{Key: "content-type", Value: []byte("text/plain")}}},
		{Key: []byte("empty"), Value: []byte{}, Headers: json},
	}
}

// produce sends the synthetic load through the producer library: every
// event once, the invalid messages spread through it, and every dupEvery-th
// event a second time a little later (a producer retry), so the duplicate
// lands in another consumer batch.
func produce(ctx context.Context, p *producer.Producer, l synth.Load, dupEvery int) (*sent, error) {
	g := synth.NewGenerator(l)
	s := &sent{start: time.Now()}
	byName := make(map[string]*groundtruth.Space)
	for _, sp := range g.Spaces() {
		t := groundtruth.NewSpace(sp)
		s.truths = append(s.truths, t)
		byName[sp] = t
	}
	bad := invalidMessages(time.Now())
	badEvery := max(l.Events/(len(bad)+1), 1)
	type due struct {
		at int64
		m  kafka.Message
	}
	var dups []due
	var ev schemas.Event
	for i := int64(0); g.Next(&ev); i++ {
		m, err := p.Message(&ev)
		if err != nil {
			return s, fmt.Errorf("encode generated event %d: %w", i, err)
		}
		if err := p.ProduceMessage(ctx, m); err != nil {
			return s, fmt.Errorf("produce event %d: %w", i, err)
		}
		s.valid++
		byName[ev.SpaceID].Add(&ev)
		if dupEvery > 0 && i%int64(dupEvery) == int64(dupEvery)/2 {
			dups = append(dups, due{at: i + 20_000, m: m})
		}
		for len(dups) > 0 && dups[0].at <= i {
			if err := p.ProduceMessage(ctx, dups[0].m); err != nil {
				return s, fmt.Errorf("produce duplicate: %w", err)
			}
			s.duplicates++
			dups = dups[1:]
		}
		if len(bad) > 0 && (i+1)%int64(badEvery) == 0 {
			if err := p.ProduceMessage(ctx, bad[0]); err != nil {
				return s, fmt.Errorf("produce invalid message: %w", err)
			}
			s.invalid++
			bad = bad[1:]
		}
	}
	for _, d := range dups {
		if err := p.ProduceMessage(ctx, d.m); err != nil {
			return s, fmt.Errorf("produce duplicate: %w", err)
		}
		s.duplicates++
	}
	for _, m := range bad {
		if err := p.ProduceMessage(ctx, m); err != nil {
			return s, fmt.Errorf("produce invalid message: %w", err)
		}
		s.invalid++
	}
	if err := p.Close(); err != nil {
		return s, fmt.Errorf("deliver the load: %w", err)
	}
	s.end = time.Now()
	return s, nil
}
