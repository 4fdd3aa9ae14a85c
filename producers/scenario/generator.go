package scenario

import (
	"math"
	"slices"
	"time"

	"github.com/spacepulse/spacepulse/schemas"
)

// Options are the knobs of one run. The zero value runs the scenario at
// full scale, seed 0, with jitter and transport.
type Options struct {
	Seed uint64
	// Scale multiplies every attempt rate and burst (0.01 = 1 % of the
	// population); 0 means 1.
	Scale float64
	// NoJitter makes the backoff cohort retry after exactly base·2^n.
	NoJitter bool
	// NoTransport delivers every event once, at its event time, in order.
	NoTransport bool
}

// kinds of a record, as schemas.Kind.
const (
	recJoin  = uint8(schemas.KindJoin)
	recLeave = uint8(schemas.KindLeave)
	recError = uint8(schemas.KindError)
)

// rec is one event before it becomes a schemas.Event: 32 bytes.
type rec struct {
	ts      int64  // ms since the scenario start
	order   uint32 // tie-break within a ms: generation order
	seq     uint32 // session number
	user    uint32
	aux     int32 // join: join_ms; leave: listening ms
	attrs   uint16
	room    uint8
	kind    uint8
	attempt uint8
	code    uint8 // error: index in Generator.codes
	reason  uint8 // leave
}

// live is one open session: 16 bytes.
type live struct {
	seq   uint32
	user  uint32
	join  uint32 // ms since the scenario start
	attrs uint16
}

// retry is a pending join attempt (a retry or a rejoin): 16 bytes.
type retry struct {
	due     int64
	user    uint32
	attrs   uint16
	room    uint8
	attempt uint8
}

// attrs packs a user's client (bits 0-3), country (bits 4-9) and retry
// cohort (bit 15: manual).
const attrManual = 1 << 15

type roomState struct {
	r        *Room
	space    string
	live     liveSet
	pending  []live
	ema      float64  // retries per second, smoothed
	retries  int      // retries this second
	users    []uint32 // listeners (by first-try joins), when keep
	keep     bool     // another room returns users from this one
	from     int      // index of the room users return from, or -1
	codesCum [][]float64
	codesIdx [][]uint8
	clientF  [][]float64 // per phase, extra failure per client
}

// Generator streams the events of a scenario in event-time order (or in
// delivery order with transport); see Next.
type Generator struct {
	sc    *Scenario
	opt   Options
	sim   *rng // the simulation
	ids   *rng // event ids
	trans *rng // transport delays and duplicates

	startMS int64 // unix ms of the first simulated second
	nsec    int64
	sec     int64 // next second to simulate
	rooms   []roomState
	queue   retryHeap
	buf     []rec
	tmp     []rec
	pos     int
	order   uint32
	seq     uint32
	users   uint32

	codes      []string
	httpStatus []uint16
	closedCode uint8
	clients    []string
	appVersion []string
	countries  []string
	regions    []string
	clientCum  []float64
	countryCum []float64
	delayCum   []float64

	truth    *truthAcc
	reorder  reorder
	frontier int64
	genDone  bool
	arena    []byte // user_id strings are cut from it; it is never overwritten
}

// NewGenerator prepares a run of sc; sc must come from Load or Parse.
func NewGenerator(sc *Scenario, opt Options) *Generator {
	if opt.Scale <= 0 {
		opt.Scale = 1
	}
	g := &Generator{
		sc:      sc,
		opt:     opt,
		sim:     newRNG(opt.Seed, 1),
		ids:     newRNG(opt.Seed, 2),
		trans:   newRNG(opt.Seed, 3),
		startMS: sc.T0.Add(sc.Start).UnixMilli(),
		nsec:    int64((sc.End - sc.Start + time.Second - 1) / time.Second),
	}
	g.closedCode = g.codeIndex(sc.ClosedCode)
	for _, c := range sc.Clients {
		g.clients = append(g.clients, c.Name)
		g.appVersion = append(g.appVersion, appVersion(c.Name))
	}
	for _, c := range sc.Countries {
		g.countries = append(g.countries, c.Name)
		g.regions = append(g.regions, region(c.Name))
	}
	g.clientCum = cumulative(sc.Clients)
	g.countryCum = cumulative(sc.Countries)
	var delays []Share
	for _, d := range sc.Transport.Delays {
		delays = append(delays, Share{Share: d.Share})
	}
	if len(delays) > 0 {
		g.delayCum = cumulative(delays)
	}
	byName := map[string]int{}
	g.rooms = make([]roomState, len(sc.Rooms))
	for i := range sc.Rooms {
		r := &sc.Rooms[i]
		rs := &g.rooms[i]
		rs.r, rs.space, rs.from = r, r.SpaceID, -1
		byName[r.Name] = i
		if r.Returning != nil {
			rs.from = byName[r.Returning.From]
			g.rooms[rs.from].keep = true
		}
		for _, p := range r.Phases {
			var idx []uint8
			for _, c := range p.Codes {
				idx = append(idx, g.codeIndex(c.Name))
			}
			if len(idx) == 0 {
				idx = append(idx, g.codeIndex("server_error"))
				p.Codes = []Share{{Name: "server_error", Share: 1}}
			}
			rs.codesIdx = append(rs.codesIdx, idx)
			rs.codesCum = append(rs.codesCum, cumulative(p.Codes))
			cf := make([]float64, len(g.clients))
			for j, c := range g.clients {
				cf[j] = p.ClientFailure[c]
			}
			rs.clientF = append(rs.clientF, cf)
		}
	}
	g.truth = newTruthAcc(g)
	return g
}

func (g *Generator) codeIndex(code string) uint8 {
	if i := slices.Index(g.codes, code); i >= 0 {
		return uint8(i)
	}
	g.codes = append(g.codes, code)
	g.httpStatus = append(g.httpStatus, httpStatus(code))
	return uint8(len(g.codes) - 1)
}

// Start is the event time of the first simulated second.
func (g *Generator) Start() time.Time { return time.UnixMilli(g.startMS).UTC() }

// Duration is the simulated event time span.
func (g *Generator) Duration() time.Duration { return time.Duration(g.nsec) * time.Second }

// Scenario returns the scenario being run.
func (g *Generator) Scenario() *Scenario { return g.sc }

// Phase names the phase of the first room open at event time ts (for a
// progress line), or "".
func (g *Generator) Phase(ts time.Time) string {
	off := ts.Sub(g.sc.T0)
	for i := range g.sc.Rooms {
		r := &g.sc.Rooms[i]
		if p := phaseAt(r, off); p >= 0 {
			return r.Phases[p].Name
		}
	}
	return ""
}

// Next fills ev with the next event and returns when it is delivered,
// counted from Start: its event time without transport, its event time plus
// the transport delay with it (duplicates come out twice, same event_id).
// ok is false after the last event. ev owns its strings.
func (g *Generator) Next(ev *schemas.Event) (deliverAt time.Duration, ok bool) {
	if g.opt.NoTransport {
		r, ok := g.nextRec()
		if !ok {
			return 0, false
		}
		g.fill(ev, r)
		return time.Duration(r.ts) * time.Millisecond, true
	}
	for {
		limit := g.frontier
		if g.genDone {
			limit = math.MaxInt64
		}
		if at, ok := g.reorder.pop(ev, limit); ok {
			g.truth.delivered++
			return time.Duration(at) * time.Millisecond, true
		}
		if g.genDone {
			return 0, false
		}
		r, ok := g.nextRec()
		if !ok {
			g.genDone = true
			continue
		}
		g.frontier = r.ts
		slot := g.reorder.slot()
		g.fill(slot, r)
		g.reorder.push(r.ts, r.ts+g.delay())
		if g.trans.float() < g.sc.Transport.Duplicate {
			ev := *slot
			*g.reorder.slot() = ev
			g.reorder.push(r.ts, r.ts+g.delay())
			g.truth.duplicates++
		}
	}
}

func (g *Generator) delay() int64 {
	if len(g.delayCum) == 0 {
		return 0
	}
	d := g.sc.Transport.Delays[pick(g.delayCum, g.trans.float())]
	return g.trans.between(d.Min.Milliseconds(), d.Max.Milliseconds())
}

// nextRec returns the next record in event-time order and feeds the truth.
func (g *Generator) nextRec() (*rec, bool) {
	for g.pos >= len(g.buf) {
		if g.sec >= g.nsec {
			return nil, false
		}
		g.buf, g.pos = g.buf[:0], 0
		g.step(g.sec)
		g.sec++
	}
	r := &g.buf[g.pos]
	g.pos++
	g.truth.observe(r)
	return r, true
}
