// Package synth generates a simple synthetic load of valid events: listeners
// joining and leaving a few spaces, with some failed join attempts. It is
// deterministic for a seed. (The scenario simulator that replays real nights
// is another package.)
package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/schemas"
)

// Load describes a synthetic load. Zero fields take their defaults.
type Load struct {
	Events   int           // events to generate (default 100,000)
	Spaces   int           // number of spaces (default 3)
	Seed     uint64        // same seed, same events
	Start    time.Time     // event time of the first event (default: now, to the second)
	Duration time.Duration // event time spanned by all events (default 10 minutes)
	// JoinErrorRate is the share of join attempts that fail (default 0.05);
	// one in ten failures is a business error (space_ended, auth, geo_blocked).
	JoinErrorRate float64
}

var (
	technical = []string{"details_not_available", "space_not_available", "timeout", "server_error", "rate_limited"}
	business  = schemas.BusinessCodes()
	clients   = []string{"ios", "ios", "ios", "android", "android", "web"}
	countries = []string{"US", "US", "US", "US", "GB", "CA", "JP", "IN", "BR", "DE"}
	regions   = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"}
)

type session struct {
	id     uuid.UUID
	user   int
	client string
}

// Generator yields the events of a Load in event-time order.
type Generator struct {
	l      Load
	rng    *rand.Rand
	i      int
	step   float64 // ms between events
	open   [][]session
	ids    *rand.ChaCha8
	spaces []string
	users  []string
}

// NewGenerator returns a generator for l.
func NewGenerator(l Load) *Generator {
	if l.Events <= 0 {
		l.Events = 100_000
	}
	if l.Spaces <= 0 {
		l.Spaces = 3
	}
	if l.Start.IsZero() {
		l.Start = time.Now().UTC().Truncate(time.Second)
	}
	if l.Duration <= 0 {
		l.Duration = 10 * time.Minute
	}
	if l.JoinErrorRate == 0 {
		l.JoinErrorRate = 0.05
	}
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(l.Seed >> (8 * i))
	}
	g := &Generator{
		l:    l,
		rng:  rand.New(rand.NewPCG(l.Seed, 0x5ba3e)),
		step: float64(l.Duration.Milliseconds()) / float64(l.Events),
		open: make([][]session, l.Spaces),
		ids:  rand.NewChaCha8(seed),
	}
	for s := range l.Spaces {
		g.spaces = append(g.spaces, fmt.Sprintf("synth%08d", s))
	}
	for u := range 1 << 16 {
		g.users = append(g.users, fmt.Sprintf("user-%010d", u*7919+11))
	}
	return g
}

// Spaces returns the space ids used.
func (g *Generator) Spaces() []string { return g.spaces }

// Next fills ev with the next event; it returns false when all were made.
func (g *Generator) Next(ev *schemas.Event) bool {
	if g.i >= g.l.Events {
		return false
	}
	ev.Reset()
	ev.TS = g.l.Start.UnixMilli() + int64(float64(g.i)*g.step)
	g.i++
	sp := g.rng.IntN(len(g.spaces))
	ev.SpaceID = g.spaces[sp]
	ev.EventID = g.uuid()
	ev.AppVersion = "10.53.0"
	ev.Region = regions[g.rng.IntN(len(regions))]
	ev.Country = countries[g.rng.IntN(len(countries))]
	open := g.open[sp]
	if len(open) > 0 && g.rng.Float64() < 0.4 {
		k := g.rng.IntN(len(open))
		s := open[k]
		open[k] = open[len(open)-1]
		g.open[sp] = open[:len(open)-1]
		ev.Kind, ev.SessionID, ev.UserID, ev.Client = schemas.KindLeave, s.id, g.users[s.user], s.client
		ev.Reason = schemas.ReasonUser
		if g.rng.IntN(20) == 0 {
			ev.Reason = schemas.ReasonNetwork
		}
		return true
	}
	s := session{id: g.uuid(), user: g.rng.IntN(len(g.users)), client: clients[g.rng.IntN(len(clients))]}
	ev.SessionID, ev.UserID, ev.Client = s.id, g.users[s.user], s.client
	ev.Attempt = uint16(g.rng.IntN(2))
	if g.rng.Float64() < g.l.JoinErrorRate {
		ev.Kind, ev.Phase = schemas.KindError, schemas.PhaseJoin
		ev.Code, ev.HTTPStatus = technical[g.rng.IntN(len(technical))], 503
		if g.rng.IntN(10) == 0 {
			ev.Code, ev.HTTPStatus = business[g.rng.IntN(len(business))], 403
		}
		return true
	}
	ev.Kind = schemas.KindJoin
	ev.JoinMS = 200 + int64(g.rng.IntN(1800))
	g.open[sp] = append(g.open[sp], s)
	return true
}

func (g *Generator) uuid() uuid.UUID {
	var id uuid.UUID
	_, _ = g.ids.Read(id[:])  // ChaCha8.Read never fails
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}
