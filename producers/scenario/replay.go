package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

// Sink receives the replayed events; *producer.Producer is one.
type Sink interface {
	Produce(ctx context.Context, ev *schemas.Event) error
}

// Progress is a snapshot of a replay, passed to ReplayConfig.Progress.
type Progress struct {
	Sent      int64         // events handed to the sink (duplicates included)
	Elapsed   time.Duration // wall time since the replay started
	EventTime time.Time     // event time of the last event sent
	Phase     string        // phase at EventTime, "" between phases
	Done      float64       // fraction of the scenario's event time replayed, 0-1
	ETA       time.Duration // estimated wall time left
	Final     bool          // the last call, after the last event
}

// Rate is events per second of wall time so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Sent) / p.Elapsed.Seconds()
}

// ReplayConfig says how fast to replay and how to report.
type ReplayConfig struct {
	// Speed is event time per wall time: 0 sends as fast as the sink
	// accepts, 1 in real time, 60 replays an hour in a minute. Events are
	// sent when their delivery time (event time plus transport delay)
	// comes; their ts stays the scenario's historical time.
	Speed float64
	// Progress, if set, is called about every Every (default 1s) of wall
	// time and once at the end.
	Progress func(Progress)
	Every    time.Duration
}

// Replay sends every event of g to sink, paced by cfg.Speed, and returns
// how many were sent. After it returns nil, g.Truth() is the whole run's.
func Replay(ctx context.Context, g *Generator, sink Sink, cfg ReplayConfig) (int64, error) {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	start := time.Now()
	nextReport := start.Add(cfg.Every)
	total := g.Duration()
	var ev schemas.Event
	var sent int64
	var at time.Duration
	report := func(now time.Time, final bool) {
		if cfg.Progress == nil {
			return
		}
		p := Progress{Sent: sent, Elapsed: now.Sub(start), EventTime: ev.Time(), Final: final}
		p.Phase = g.Phase(p.EventTime)
		p.Done = min(max(float64(at)/float64(total), 0), 1)
		switch {
		case final:
			p.Done = 1
		case cfg.Speed > 0:
			p.ETA = time.Duration(float64(total-at) / cfg.Speed)
		case p.Done > 0:
			p.ETA = time.Duration(float64(p.Elapsed) * (1 - p.Done) / p.Done)
		}
		cfg.Progress(p)
	}
	var timer *time.Timer
	for {
		d, ok := g.Next(&ev)
		if !ok {
			break
		}
		at = d
		if cfg.Speed > 0 {
			due := start.Add(time.Duration(float64(d) / cfg.Speed))
			if wait := time.Until(due); wait > time.Millisecond {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
		}
		if err := sink.Produce(ctx, &ev); err != nil {
			return sent, fmt.Errorf("replay event %d (%s at %s): %w", sent, ev.Kind, ev.Time().Format(time.RFC3339), err)
		}
		sent++
		if sent&1023 == 0 || cfg.Speed > 0 {
			if now := time.Now(); now.After(nextReport) {
				report(now, false)
				nextReport = now.Add(cfg.Every)
			}
			if err := ctx.Err(); err != nil {
				return sent, err
			}
		}
	}
	report(time.Now(), true)
	return sent, nil
}
