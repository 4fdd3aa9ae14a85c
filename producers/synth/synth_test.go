package synth

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
)

func TestGeneratorDeterministicAndValid(t *testing.T) {
	start := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	l := Load{Events: 20_000, Spaces: 3, Seed: 42, Start: start, Duration: time.Minute}
	a, b := NewGenerator(l), NewGenerator(l)
	var ea, eb schemas.Event
	open := map[uuid.UUID]bool{}
	ids := map[uuid.UUID]bool{}
	kinds := map[schemas.Kind]int{}
	last := int64(0)
	n := 0
	for a.Next(&ea) {
		if !b.Next(&eb) || ea != eb {
			t.Fatalf("event %d differs between two generators of one seed", n)
		}
		if err := schemas.Validate(&ea, start); err != nil {
			t.Fatalf("event %d invalid: %v", n, err)
		}
		if ea.TS < last || ea.TS >= start.Add(time.Minute).UnixMilli() {
			t.Fatalf("event %d at %d: not in event-time order within the span", n, ea.TS)
		}
		last = ea.TS
		if ids[ea.EventID] {
			t.Fatalf("event id %s repeated", ea.EventID)
		}
		ids[ea.EventID] = true
		switch ea.Kind {
		case schemas.KindJoin:
			open[ea.SessionID] = true
		case schemas.KindLeave:
			if !open[ea.SessionID] {
				t.Fatalf("leave of session %s that is not open", ea.SessionID)
			}
			delete(open, ea.SessionID)
		}
		kinds[ea.Kind]++
		n++
	}
	if n != l.Events || b.Next(&eb) {
		t.Fatalf("generated %d events, want %d", n, l.Events)
	}
	if kinds[schemas.KindJoin] == 0 || kinds[schemas.KindLeave] == 0 || kinds[schemas.KindError] == 0 {
		t.Fatalf("kinds %v: want joins, leaves and errors", kinds)
	}
	other := NewGenerator(Load{Events: 10, Seed: 43, Start: start})
	other.Next(&eb)
	first := NewGenerator(l)
	first.Next(&ea)
	if ea.EventID == eb.EventID {
		t.Fatal("two seeds gave the same first event id")
	}
}
