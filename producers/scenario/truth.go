package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Truth is the ground truth of a run, computed from the emitted events
// before transport delay and duplication, with the metric definitions of
// sql/README.md:
//
//   - join attempts: join + error with phase join (every code);
//   - technical failures: join errors with a code other than space_ended,
//     auth, geo_blocked; business failures: those three;
//   - CCL of second i (CCL.Values[i]): joins − leaves with ts before
//     CCL.Start + (i+1) s, that is bucketed by toStartOfSecond(ts) and summed;
//   - per-user failure: users with ≥ 1 attempt and no join in the interval ÷
//     users with ≥ 1 attempt; retry amplification: attempts ÷ those users;
//   - join_ms quantiles: nearest rank over every join.
type Truth struct {
	Scenario string    `json:"scenario"`
	Seed     uint64    `json:"seed"`
	Scale    float64   `json:"scale"`
	Jitter   bool      `json:"jitter"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Events   Counts    `json:"events"`
	// Delivered is Events.Total plus Duplicates: the messages sent.
	Delivered  int64       `json:"delivered"`
	Duplicates int64       `json:"duplicates"`
	Users      int64       `json:"unique_users"`     // distinct user_id with ≥ 1 attempt
	Listeners  int64       `json:"unique_listeners"` // distinct user_id with ≥ 1 join
	Rooms      []RoomTruth `json:"rooms"`
}

// Counts counts events by kind.
type Counts struct {
	Total  int64 `json:"total"`
	Joins  int64 `json:"joins"`
	Leaves int64 `json:"leaves"`
	Errors int64 `json:"errors"`
}

// RoomTruth is the truth of one room (space_id).
type RoomTruth struct {
	Name    string `json:"name"`
	SpaceID string `json:"space_id"`
	// CCL has one value per second from CCL.Start (the scenario start).
	CCL    Series    `json:"ccl"`
	Peak   int64     `json:"peak"`
	PeakAt time.Time `json:"peak_at"` // first second at the peak
	Interval
	Leaves         int64            `json:"leaves"`
	LeavesByReason map[string]int64 `json:"leaves_by_reason"`
	ListeningMS    int64            `json:"listening_ms"` // Σ leave.ts − join.ts
	JoinMSP50      int64            `json:"join_ms_p50"`
	JoinMSP95      int64            `json:"join_ms_p95"`
	JoinMSP99      int64            `json:"join_ms_p99"`
	// Returning is set for a relaunched room: how many of its listeners had
	// listened in room ReturningFrom, and their share of that room's.
	ReturningFrom      string  `json:"returning_from,omitempty"`
	Returning          int64   `json:"returning_listeners,omitempty"`
	ReturningShareFrom float64 `json:"returning_share_of_from,omitempty"`
	// SessionsPerListener is joins ÷ unique listeners.
	SessionsPerListener float64      `json:"sessions_per_listener"`
	Minutes             Minutes      `json:"minutes"`
	PhaseTruth          []PhaseTruth `json:"phases"`
}

// Series is a per-second (or per-minute) array starting at Start.
type Series struct {
	Start  time.Time `json:"start"`
	StepS  int       `json:"step_s"`
	Values []int64   `json:"values"`
}

// Interval holds the attempt figures of an interval (a room, a phase).
type Interval struct {
	Attempts          int64            `json:"attempts"`
	Joins             int64            `json:"joins"`
	Technical         int64            `json:"technical_failures"`
	Business          int64            `json:"business_failures"`
	ByCode            map[string]int64 `json:"failures_by_code"`
	Users             int64            `json:"users_attempting"`
	Listeners         int64            `json:"unique_listeners"`
	UsersFailed       int64            `json:"users_failed"`
	PerAttemptFailure float64          `json:"per_attempt_failure"` // technical ÷ attempts
	PerUserFailure    float64          `json:"per_user_failure"`
	Amplification     float64          `json:"retry_amplification"`
}

// PhaseTruth is the truth of one phase of a room.
type PhaseTruth struct {
	Name string    `json:"name"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Interval
	CCLStart int64 `json:"ccl_start"`
	CCLEnd   int64 `json:"ccl_end"`
	Peak     int64 `json:"peak"`
}

// Minutes are per-minute columns from Start (minute i covers
// [Start + i min, Start + (i+1) min)).
type Minutes struct {
	Start       time.Time          `json:"start"`
	Attempts    []int64            `json:"attempts"`
	Joins       []int64            `json:"joins"`
	Technical   []int64            `json:"technical_failures"`
	Business    []int64            `json:"business_failures"`
	ByCode      map[string][]int64 `json:"failures_by_code"`
	Users       []int64            `json:"users_attempting"`
	UsersFailed []int64            `json:"users_failed"`
}

// WriteFile writes t as indented JSON to path.
func (t *Truth) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create truth file: %w", err)
	}
	if err := t.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close truth file: %w", err)
	}
	return nil
}

// Write writes t as compact JSON (one line; `jq .` shows it indented).
func (t *Truth) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

// ReadTruth reads a truth file written by Write.
func ReadTruth(r io.Reader) (*Truth, error) {
	t := &Truth{}
	if err := json.NewDecoder(r).Decode(t); err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	return t, nil
}

// CCLAt returns the room's CCL at event time ts (carrying the last value
// forward), or 0 before the start.
func (r *RoomTruth) CCLAt(ts time.Time) int64 {
	i := int(ts.Sub(r.CCL.Start) / time.Second)
	if i < 0 || len(r.CCL.Values) == 0 {
		return 0
	}
	return r.CCL.Values[min(i, len(r.CCL.Values)-1)]
}

// Truth returns the ground truth of the events emitted so far (before
// transport); after Next returned false, of the whole run.
func (g *Generator) Truth() *Truth {
	return g.truth.result()
}

// Room returns the truth of the room named name (or with that space_id).
func (t *Truth) Room(name string) *RoomTruth {
	for i := range t.Rooms {
		if t.Rooms[i].Name == name || t.Rooms[i].SpaceID == name {
			return &t.Rooms[i]
		}
	}
	return nil
}
