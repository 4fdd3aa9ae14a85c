package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadBuiltinAndPath(t *testing.T) {
	for _, name := range Names() {
		sc, err := Load(name)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		if sc.Name != name {
			t.Fatalf("scenario file %s names itself %q", name, sc.Name)
		}
		data, _ := Builtin(name)
		path := filepath.Join(t.TempDir(), "copy.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err != nil {
			t.Fatalf("load a copy of %s from a path: %v", name, err)
		}
	}
	if len(Names()) != 3 {
		t.Fatalf("builtin scenarios %v: want 3", Names())
	}
}

func TestParseRejects(t *testing.T) {
	base, _ := Builtin("trump-musk-2024")
	f := func(old, new, wantErr string) {
		t.Helper()
		if !strings.Contains(string(base), old) {
			t.Fatalf("the scenario has no %q to replace", old)
		}
		_, err := Parse([]byte(strings.Replace(string(base), old, new, 1)))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%q -> %q: error %v, want one containing %q", old, new, err, wantErr)
		}
	}
	f("max_attempts: 6", "max_attempts: 0", "max_attempts")
	f("max_attempts: 6", "max_tries: 6", "not found")
	f("end: 3h30m", "end: -20m", "not after start")
	f("to: -5m", "to: -1m", "overlaps")
	f("{name: GB, share: 0.05}", "{name: uk, share: 0.05}", "ISO 3166")
	f("space_id: 1YqJDqWLyEMGV", "space_id: ''", "space_id")
	f("manual: [5s, 30s]", "manual: [30s, 5s]", "retry.manual")
	f("attempts: [5000, 0]", "attempts: [5000, 0, 1]", "one value or [start, end]")
	f("t0: 2024-08-13T00:00:00Z", "t0: 1999-08-13T00:00:00Z", "after 2006")
	f("t0: 2024-08-13T00:00:00Z", "t0: 2024-08-13T00:00:30Z", "whole minute")
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "trump-musk-2024") {
		t.Fatalf("unknown scenario: error %v, want the list of names", err)
	}
}

func TestClock(t *testing.T) {
	sc, _ := Load("trump-musk-2024")
	f := func(clock string, want time.Duration) {
		t.Helper()
		got, err := sc.At(clock)
		if err != nil || got != want {
			t.Fatalf("At(%q) = %v, %v; want %v", clock, got, err, want)
		}
		if s := sc.ClockTime(want); !strings.HasPrefix(s, clock) {
			t.Fatalf("ClockTime(%v) = %s, want %s", want, s, clock)
		}
	}
	f("20:00", 0)
	f("19:47", -13*time.Minute)
	f("21:40", time.Hour+40*time.Minute)
	f("22:47:30", 2*time.Hour+47*time.Minute+30*time.Second)
}
