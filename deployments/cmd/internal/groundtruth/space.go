// Package groundtruth computes the figures of a space from the events as they were generated
// (each once, before any duplicate delivery) with the metric definitions of sql/README.md, and
// compares what ClickHouse answers through sql/warehouse with them: spacepulse-demo and
// spacepulse-chaos check every figure and every second of the concurrency curve this way.
package groundtruth

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Space is the ground truth of one space, computed from the events as they
// were generated (each once, before duplicate deliveries), with the metric
// definitions of sql/README.md as sql/queries implements them. Add each event
// once; a copy added again counts twice.
type Space struct {
	ID          string // space_id
	first, last int64  // first and last second with an event

	joins, leaves, techFailures, bizFailures, sessionErrors int64

	drops     int64            // leaves with reason network or error
	latencies []int64          // join_ms of every join that has one
	deltas    map[int64]int64  // second -> joins - leaves in it
	minutes   map[int64]*count // minute start (unix s) -> attempts and failures
	attempted map[string]bool  // user_id -> joined at least once
	sessions  map[uuid.UUID]*session
}

type count struct{ attempts, tech, biz int64 }

type session struct {
	join, leave int64 // seconds; leave -1 while open
	joined      bool
}

// NewSpace returns the empty truth of space id.
func NewSpace(id string) *Space {
	return &Space{
		ID:        id,
		first:     -1,
		deltas:    make(map[int64]int64),
		minutes:   make(map[int64]*count),
		attempted: make(map[string]bool),
		sessions:  make(map[uuid.UUID]*session),
	}
}

// Add counts one generated event of t's space.
func (t *Space) Add(ev *schemas.Event) {
	sec := floorDiv(ev.TS, 1000)
	if t.first < 0 || sec < t.first {
		t.first = sec
	}
	t.last = max(t.last, sec)
	minute := sec - sec%60
	m := t.minutes[minute]
	if m == nil {
		m = &count{}
		t.minutes[minute] = m
	}
	switch {
	case ev.Kind == schemas.KindJoin:
		t.joins++
		t.deltas[sec]++
		m.attempts++
		t.attempted[ev.UserID] = true
		if ev.JoinMS >= 0 {
			t.latencies = append(t.latencies, ev.JoinMS)
		}
		s := t.session(ev.SessionID)
		if !s.joined || sec < s.join {
			s.join = sec
		}
		s.joined = true
	case ev.Kind == schemas.KindLeave:
		t.leaves++
		t.deltas[sec]--
		if ev.Reason == schemas.ReasonNetwork || ev.Reason == schemas.ReasonError {
			t.drops++
		}
		s := t.session(ev.SessionID)
		s.leave = max(s.leave, sec)
	case ev.Phase == schemas.PhaseJoin:
		m.attempts++
		if !t.attempted[ev.UserID] {
			t.attempted[ev.UserID] = false
		}
		if schemas.IsBusinessCode(ev.Code) {
			t.bizFailures++
			m.biz++
		} else {
			t.techFailures++
			m.tech++
		}
	default:
		t.sessionErrors++
	}
}

func (t *Space) session(id uuid.UUID) *session {
	s := t.sessions[id]
	if s == nil {
		s = &session{leave: -1}
		t.sessions[id] = s
	}
	return s
}

// curve returns CCL(t) for every second from first to last.
func (t *Space) curve() []int64 {
	out := make([]int64, 0, t.last-t.first+1)
	var ccl int64
	for s := t.first; s <= t.last; s++ {
		ccl += t.deltas[s]
		out = append(out, ccl)
	}
	return out
}

// peak returns the highest CCL and the earliest second it was reached.
func (t *Space) peak() (int64, time.Time) {
	var best int64
	at := t.first
	for i, v := range t.curve() {
		if v > best {
			best, at = v, t.first+int64(i)
		}
	}
	return best, time.Unix(at, 0).UTC()
}

// users returns the users with a join attempt, those of them who never
// joined, and the unique listeners (users with a join).
func (t *Space) users() (attempting, failed, listeners int64) {
	for _, joined := range t.attempted {
		attempting++
		if joined {
			listeners++
		} else {
			failed++
		}
	}
	return attempting, failed, listeners
}

// quantiles returns the nearest-rank p50, p95 and p99 of the join latencies
// (sql/queries/join_latency.sql): the ceil(level * n)-th smallest.
func (t *Space) quantiles() [3]int64 {
	s := slices.Clone(t.latencies)
	slices.Sort(s)
	var out [3]int64
	if len(s) == 0 {
		return out
	}
	for i, level := range [...]float64{0.5, 0.95, 0.99} {
		out[i] = warehouse.NearestRank(s, level)
	}
	return out
}

// listening returns the listening seconds within [first, last] summed over
// sessions (an open session runs to the end of the window) and the number of
// sessions with some.
func (t *Space) listening() (seconds, sessions int64) {
	end := t.last + 1
	for _, s := range t.sessions {
		if !s.joined {
			continue
		}
		stop := end
		if s.leave >= 0 {
			stop = s.leave
		}
		if d := min(stop, end) - max(s.join, t.first); d > 0 {
			seconds += d
			sessions++
		}
	}
	return seconds, sessions
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
