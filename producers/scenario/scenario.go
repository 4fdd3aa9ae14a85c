// Package scenario replays the nights of scenarios/*.yaml: a scenario is
// data (a YAML file a user can copy and edit) describing rooms, phases, the
// retry model, the client and country mix and the transport; a Generator
// turns it into a deterministic stream of valid schemas.Events in event-time
// order, with the ground truth (Truth) computed from the emitted events
// before transport delay and duplication.
//
// A demo or test replays a night with:
//
//	sc, err := scenario.Load("trump-musk-2024") // or a path to a .yaml file
//	g := scenario.NewGenerator(sc, scenario.Options{Seed: 1, Scale: 0.01})
//	var ev schemas.Event
//	for {
//		deliverAt, ok := g.Next(&ev) // deliverAt: from g.Start(), transport included
//		if !ok {
//			break
//		}
//		// send ev (or use scenario.Replay with a Sink and a speed)
//	}
//	truth := g.Truth() // truth.Room("main").CCLAt(t), .Peak, .Minutes, .PhaseTruth
//
// Memory is bounded by the live sessions, not the events: 16 bytes per open
// session and per pending retry, the events of the current second, the
// events in transport flight, and for the truth 6 bytes and 2 bits per user
// and room plus per-second and per-minute arrays. stress-8m (8.2M sessions
// at once, 17.6M events) peaks at 440-510 MB RSS with the default GOGC,
// ~340 MB with GOMEMLIMIT=300MiB.
package scenario

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed scenarios/*.yaml
var builtin embed.FS

// Names lists the embedded scenarios.
func Names() []string {
	entries, _ := builtin.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// Scenario is one night. Times (Room.Open, Phase.From, …) are offsets from
// T0; Start and End bound the simulated event time.
type Scenario struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	T0          time.Time     `yaml:"t0"`
	Clock       time.Duration `yaml:"clock_offset"` // UTC offset of the local clock used in phase labels (e.g. -4h for ET)
	Start       time.Duration `yaml:"start"`
	End         time.Duration `yaml:"end"`
	Rooms       []Room        `yaml:"rooms"`
	Retry       Retry         `yaml:"retry"`
	Clients     []Share       `yaml:"clients"`
	Countries   []Share       `yaml:"countries"`
	Transport   Transport     `yaml:"transport"`
	// ClosedCode is the business error every join attempt gets after its
	// room ended (default space_ended).
	ClosedCode string `yaml:"closed_code"`
	// LeaveNetworkShare is the share of hazard leaves with reason network
	// (the rest are reason user).
	LeaveNetworkShare float64 `yaml:"leave_network_share"`
	// Anchors are the press figures of the night the simulated CCL must
	// pass within ±10 % (the calibration test checks them; a report can
	// print them beside the measured figures).
	Anchors []Anchor `yaml:"anchors"`
}

// Anchor is a press figure: room's CCL at local Clock time was CCL (or in
// CCL-CCLMax). With Until, the CCL stayed at or above CCL from Clock to
// Until; with Peak, CCL is also the room's peak.
type Anchor struct {
	Room   string  `yaml:"room"`
	Clock  string  `yaml:"clock"`
	Until  string  `yaml:"until"`
	CCL    float64 `yaml:"ccl"`
	CCLMax float64 `yaml:"ccl_max"`
	Peak   bool    `yaml:"peak"`
	Source string  `yaml:"source"`
}

// Tolerance is how close the simulated CCL must come to an anchor (±10 %).
const Tolerance = 0.10

// Band returns the accepted CCL range of the anchor at full scale.
func (a Anchor) Band() (lo, hi float64) {
	return a.CCL * (1 - Tolerance), max(a.CCL, a.CCLMax) * (1 + Tolerance)
}

// Room is one live audio room (space).
type Room struct {
	Name    string        `yaml:"name"`
	SpaceID string        `yaml:"space_id"`
	Open    time.Duration `yaml:"open"`
	// End is when the room ends (or is killed): from End on every live
	// session leaves with reason ended, spread evenly over Drain, and every
	// join attempt gets Scenario.ClosedCode.
	End   time.Duration `yaml:"end"`
	Drain time.Duration `yaml:"drain"`
	// Returning draws a share of this room's new users from another room's
	// users (a relaunched room).
	Returning *Returning `yaml:"returning"`
	Crashes   []Crash    `yaml:"crashes"`
	Phases    []Phase    `yaml:"phases"`
}

// Returning: Share of the new users of a room are users of room From.
type Returning struct {
	From  string  `yaml:"from"`
	Share float64 `yaml:"share"`
}

// Crash drops a share of the live sessions at once (leave, reason error);
// a share of those rejoin after a delay drawn from Delay.
type Crash struct {
	At     time.Duration   `yaml:"at"`
	Drop   float64         `yaml:"drop"`
	Rejoin float64         `yaml:"rejoin"`
	Delay  []time.Duration `yaml:"delay"` // [min, max]
}

// Phase is a time range of a room with its rates; a [start, end] pair is
// interpolated linearly over the phase, a single value is constant.
type Phase struct {
	Name string        `yaml:"name"`
	From time.Duration `yaml:"from"`
	To   time.Duration `yaml:"to"`
	// Attempts is the join attempts per minute (first tries, retries and
	// rejoins together); the generator draws first tries to fill what the
	// retries (smoothed over ~30 s) leave.
	Attempts Ramp `yaml:"attempts"`
	// Failure is the technical failure probability of a join attempt.
	Failure Ramp `yaml:"failure"`
	// Codes splits technical failures by code (shares, normalised).
	Codes []Share `yaml:"codes"`
	// ClientFailure adds failure points for a client (web: 0.10).
	ClientFailure map[string]float64 `yaml:"client_failure"`
	// LeaveHazard is the probability a listener leaves per listener-minute.
	LeaveHazard Ramp `yaml:"leave_hazard"`
	// Rejoin is the share of hazard leavers who try to join again after a
	// delay drawn from RejoinDelay (default [30s, 2m]): listeners whose
	// audio dropped in a crashing room.
	Rejoin      float64         `yaml:"rejoin"`
	RejoinDelay []time.Duration `yaml:"rejoin_delay"`
	// JoinMS is the median join latency in ms (log-normal, σ 0.6).
	JoinMS Ramp `yaml:"join_ms"`
	// Burst adds Attempts extra first tries spread over Over starting At
	// (a push notification at the announced time).
	Burst *Burst `yaml:"burst"`
}

// Burst is a one-off wave of first tries.
type Burst struct {
	At       time.Duration `yaml:"at"`
	Over     time.Duration `yaml:"over"`
	Attempts float64       `yaml:"attempts"`
}

// Retry is what a client does after a failed join attempt.
type Retry struct {
	GiveUp      float64 `yaml:"give_up"`       // after the first failure
	GiveUpAfter float64 `yaml:"give_up_after"` // after each further failure
	MaxAttempts int     `yaml:"max_attempts"`
	// BackoffShare of clients retry with exponential backoff: delay
	// U(0, min(Cap, Base·2^n)) after the n-th failure (exactly Base·2^n
	// without jitter); the others retry by hand after U(Manual[0], Manual[1]).
	BackoffShare float64         `yaml:"backoff_share"`
	Base         time.Duration   `yaml:"backoff_base"`
	Cap          time.Duration   `yaml:"backoff_cap"`
	Manual       []time.Duration `yaml:"manual"`
	Jitter       bool            `yaml:"jitter"`
}

// Transport is how events reach Kafka: each delay class takes Share of the
// events with a delay U(Min, Max); Duplicate of the events are delivered twice.
type Transport struct {
	Delays    []Delay `yaml:"delays"`
	Duplicate float64 `yaml:"duplicate"`
}

// Delay is one class of transport delay.
type Delay struct {
	Share float64       `yaml:"share"`
	Min   time.Duration `yaml:"min"`
	Max   time.Duration `yaml:"max"`
}

// Share is a named weight (a client, a country, an error code).
type Share struct {
	Name  string  `yaml:"name"`
	Share float64 `yaml:"share"`
}

// Load returns the embedded scenario called name, or reads name as a YAML
// file when it ends in .yaml/.yml or contains a path separator.
func Load(name string) (*Scenario, error) {
	var data []byte
	var err error
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		data, err = os.ReadFile(name)
	} else {
		data, err = builtin.ReadFile("scenarios/" + name + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("unknown scenario %q: want one of %s or a .yaml path", name, strings.Join(Names(), ", "))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(data)
}

// Builtin returns the YAML text of an embedded scenario (to copy and edit).
func Builtin(name string) ([]byte, error) {
	return builtin.ReadFile("scenarios/" + name + ".yaml")
}

// Parse decodes and checks a scenario; unknown fields are errors.
func Parse(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	sc := &Scenario{}
	if err := dec.Decode(sc); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	if err := sc.check(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", sc.Name, err)
	}
	return sc, nil
}

func (sc *Scenario) check() error {
	if sc.ClosedCode == "" {
		sc.ClosedCode = "space_ended"
	}
	switch {
	case sc.T0.Year() < 2006:
		return fmt.Errorf("t0 %v: want a time after 2006", sc.T0)
	case sc.End <= sc.Start:
		return fmt.Errorf("end %v is not after start %v", sc.End, sc.Start)
	case !sc.T0.Add(sc.Start).Truncate(time.Minute).Equal(sc.T0.Add(sc.Start)):
		return fmt.Errorf("t0 + start = %v: want a whole minute (the truth's minutes align with toStartOfMinute)", sc.T0.Add(sc.Start))
	case sc.End-sc.Start > 40*24*time.Hour:
		return fmt.Errorf("start %v to end %v: want at most 40 days", sc.Start, sc.End)
	case len(sc.Rooms) == 0 || len(sc.Rooms) > 255:
		return fmt.Errorf("%d rooms: want 1-255", len(sc.Rooms))
	case len(sc.Clients) == 0 || len(sc.Clients) > 16:
		return fmt.Errorf("%d clients: want 1-16", len(sc.Clients))
	case len(sc.Countries) == 0 || len(sc.Countries) > 64:
		return fmt.Errorf("%d countries: want 1-64", len(sc.Countries))
	case sc.Retry.MaxAttempts < 1 || sc.Retry.MaxAttempts > 255:
		return fmt.Errorf("retry.max_attempts %d: want 1-255", sc.Retry.MaxAttempts)
	case len(sc.Retry.Manual) != 2 || sc.Retry.Manual[0] > sc.Retry.Manual[1]:
		return fmt.Errorf("retry.manual %v: want [min, max]", sc.Retry.Manual)
	case sc.Retry.Base <= 0 || sc.Retry.Cap < sc.Retry.Base:
		return fmt.Errorf("retry.backoff_base %v, backoff_cap %v: want 0 < base <= cap", sc.Retry.Base, sc.Retry.Cap)
	}
	for _, c := range sc.Countries {
		if len(c.Name) != 2 || strings.ToUpper(c.Name) != c.Name {
			return fmt.Errorf("country %q: want ISO 3166-1 alpha-2 in upper case", c.Name)
		}
	}
	for _, a := range sc.Anchors {
		if _, err := sc.At(a.Clock); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		if a.Until != "" {
			if _, err := sc.At(a.Until); err != nil {
				return fmt.Errorf("anchor: %w", err)
			}
		}
		if !slices.ContainsFunc(sc.Rooms, func(r Room) bool { return r.Name == a.Room }) {
			return fmt.Errorf("anchor at %s: no room %q", a.Clock, a.Room)
		}
	}
	names := map[string]bool{}
	for i := range sc.Rooms {
		r := &sc.Rooms[i]
		if r.SpaceID == "" || len(r.SpaceID) > 64 {
			return fmt.Errorf("room %q: space_id must be 1-64 bytes", r.Name)
		}
		if r.End <= r.Open {
			return fmt.Errorf("room %q: end %v is not after open %v", r.Name, r.End, r.Open)
		}
		if len(r.Phases) > 254 {
			return fmt.Errorf("room %q: %d phases, want at most 254", r.Name, len(r.Phases))
		}
		if r.Returning != nil && !names[r.Returning.From] {
			return fmt.Errorf("room %q: returning.from %q is not an earlier room", r.Name, r.Returning.From)
		}
		names[r.Name] = true
		for _, c := range r.Crashes {
			if len(c.Delay) != 2 || c.Delay[0] > c.Delay[1] {
				return fmt.Errorf("room %q: crash at %v: delay %v, want [min, max]", r.Name, c.At, c.Delay)
			}
		}
		slices.SortFunc(r.Phases, func(a, b Phase) int { return int(a.From - b.From) })
		for j, p := range r.Phases {
			if p.To <= p.From {
				return fmt.Errorf("room %q phase %q: to %v is not after from %v", r.Name, p.Name, p.To, p.From)
			}
			if j > 0 && p.From < r.Phases[j-1].To {
				return fmt.Errorf("room %q phase %q overlaps the one before", r.Name, p.Name)
			}
			if len(p.RejoinDelay) == 0 {
				r.Phases[j].RejoinDelay = []time.Duration{30 * time.Second, 2 * time.Minute}
			} else if len(p.RejoinDelay) != 2 || p.RejoinDelay[0] > p.RejoinDelay[1] {
				return fmt.Errorf("room %q phase %q: rejoin_delay %v, want [min, max]", r.Name, p.Name, p.RejoinDelay)
			}
			for _, v := range []Ramp{p.Attempts, p.Failure, p.LeaveHazard, p.JoinMS} {
				if len(v) > 2 {
					return fmt.Errorf("room %q phase %q: a rate is one value or [start, end], got %v", r.Name, p.Name, v)
				}
			}
		}
	}
	return nil
}

// Clock formats an offset from T0 as the scenario's local clock time.
func (sc *Scenario) ClockTime(off time.Duration) string {
	return sc.T0.Add(off).Add(sc.Clock).UTC().Format("15:04:05")
}

// At returns the offset of a local clock time "15:04" or "15:04:05" on the
// scenario's night, taking the one nearest T0.
func (sc *Scenario) At(clock string) (time.Duration, error) {
	layout := "15:04"
	if strings.Count(clock, ":") == 2 {
		layout = "15:04:05"
	}
	c, err := time.Parse(layout, clock)
	if err != nil {
		return 0, fmt.Errorf("clock time %q: %w", clock, err)
	}
	local := sc.T0.Add(sc.Clock).UTC()
	day := time.Date(local.Year(), local.Month(), local.Day(), c.Hour(), c.Minute(), c.Second(), 0, time.UTC)
	off := day.Sub(local)
	for off > 12*time.Hour {
		off -= 24 * time.Hour
	}
	for off < -12*time.Hour {
		off += 24 * time.Hour
	}
	return off, nil
}

// Ramp is a rate over a phase: one value (constant) or [start, end]
// (linear from start to end).
type Ramp []float64

// UnmarshalYAML accepts a number or a list of one or two numbers.
func (r *Ramp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var v float64
		if err := n.Decode(&v); err != nil {
			return err
		}
		*r = Ramp{v}
		return nil
	}
	var v []float64
	if err := n.Decode(&v); err != nil {
		return err
	}
	*r = v
	return nil
}

// lerp interpolates a [start, end] or constant rate at fraction f.
func lerp(v Ramp, f float64) float64 {
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	return v[0] + (v[1]-v[0])*f
}
