package main

import (
	"testing"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
)

func TestJudge(t *testing.T) {
	a, b, c, x := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	generated := map[uuid.UUID]struct{}{a: {}, b: {}, c: {}}
	f := func(stored map[uuid.UUID]uint64, figures func(*groundtruth.Checker), want Verdict) {
		t.Helper()
		ch := &groundtruth.Checker{}
		figures(ch)
		got := judge(generated, stored, ch)
		if got != want {
			t.Fatalf("judge:\n got %+v\nwant %+v", got, want)
		}
		if got.OK() != (want == Verdict{Compared: want.Compared}) {
			t.Fatalf("OK() = %v for %+v", got.OK(), got)
		}
	}
	right := func(ch *groundtruth.Checker) {
		ch.Second("CCL at 20:00:00", 5, 5)
		ch.Count("joins", 7, 7)
	}
	f(map[uuid.UUID]uint64{a: 1, b: 1, c: 1}, right, Verdict{Compared: 2})
	// An event missing from events.
	f(map[uuid.UUID]uint64{a: 1, c: 1}, right, Verdict{Lost: 1, Compared: 2})
	// An event landed twice, not merged yet; an id nobody generated.
	f(map[uuid.UUID]uint64{a: 2, b: 1, c: 1, x: 1}, right, Verdict{DoubleCounted: 2, ExtraRows: 1, Foreign: 1, Compared: 2})
	// A rollup counting a join twice, and the curve one listener too high for two seconds.
	f(map[uuid.UUID]uint64{a: 1, b: 1, c: 1}, func(ch *groundtruth.Checker) {
		ch.Second("CCL at 20:00:00", 6, 5)
		ch.Second("CCL at 20:00:01", 6, 5)
		ch.Count("joins", 8, 7)
		ch.Count("leaves", 3, 4) // short: wrong, not double-counted
	}, Verdict{DoubleCounted: 1, Excess: 1, WrongSeconds: 2, WrongFigures: 4, Compared: 4})
	// A figure that is wrong without being a second or a count.
	f(map[uuid.UUID]uint64{a: 1, b: 1, c: 1}, func(ch *groundtruth.Checker) {
		ch.Eq("peak time", "20:00:01", "20:00:00")
	}, Verdict{WrongFigures: 1, Compared: 1})
}

func TestVerdictLine(t *testing.T) {
	v := Verdict{Lost: 3, DoubleCounted: 2, WrongSeconds: 1}
	if got, want := v.Line(), "lost 3, double-counted 2, wrong seconds 1"; got != want {
		t.Fatalf("Line() = %q, want %q", got, want)
	}
}
