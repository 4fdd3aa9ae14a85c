package scenario

import (
	"context"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

type countingSink struct {
	n    int64
	last time.Time
}

func (s *countingSink) Produce(_ context.Context, ev *schemas.Event) error {
	s.n++
	s.last = ev.Time()
	return nil
}

func TestReplayPacesAndReports(t *testing.T) {
	f := func(speed float64, minWall, maxWall time.Duration) {
		t.Helper()
		sc, err := Load("desantis-2023")
		if err != nil {
			t.Fatal(err)
		}
		g := NewGenerator(sc, Options{Seed: 1, Scale: 0.001})
		var reports []Progress
		sink := &countingSink{}
		start := time.Now()
		n, err := Replay(context.Background(), g, sink, ReplayConfig{Speed: speed, Every: 100 * time.Millisecond,
			Progress: func(p Progress) { reports = append(reports, p) }})
		wall := time.Since(start)
		if err != nil {
			t.Fatalf("speed %g: %v", speed, err)
		}
		tr := g.Truth()
		if n != sink.n || n != tr.Delivered {
			t.Fatalf("speed %g: sent %d, sink got %d, truth delivered %d", speed, n, sink.n, tr.Delivered)
		}
		if wall < minWall || wall > maxWall {
			t.Fatalf("speed %g: took %v, want %v-%v", speed, wall, minWall, maxWall)
		}
		last := reports[len(reports)-1]
		if !last.Final || last.Sent != n || last.Done != 1 {
			t.Fatalf("speed %g: last progress %+v, want final with %d sent", speed, last, n)
		}
		if speed > 0 && len(reports) < 5 {
			t.Fatalf("speed %g: %d progress reports in %v, want one every 100ms", speed, len(reports), wall)
		}
	}
	f(0, 0, 5*time.Second)
	// 1h40m of event time (plus up to 10 min of transport delay) at 3600x: 1.7-1.9 s.
	f(3600, 1600*time.Millisecond, 4*time.Second)
}

func TestReplayStopsOnCancel(t *testing.T) {
	sc, _ := Load("trump-musk-2024")
	g := NewGenerator(sc, Options{Seed: 1, Scale: 0.001})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Replay(ctx, g, &countingSink{}, ReplayConfig{Speed: 1})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("real-time replay under a 200ms deadline: err %v after %v, want the context error promptly", err, time.Since(start))
	}
}
