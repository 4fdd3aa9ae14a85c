package scenario

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/google/uuid"
)

// rng is a seeded PCG with the few draws the simulation needs, called
// directly (no interface) because it runs several times per event.
type rng struct{ p rand.PCG }

func newRNG(seed, stream uint64) *rng {
	r := &rng{}
	r.p.Seed(seed, stream^0x9e3779b97f4a7c15)
	return r
}

func (r *rng) u64() uint64 { return r.p.Uint64() }

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.p.Uint64()>>11) * (1.0 / (1 << 53)) }

// intn returns a uniform value in [0, n) for n > 0 (Lemire's method, the
// tiny bias is irrelevant here).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

// between returns a uniform value in [lo, hi].
func (r *rng) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + int64(r.intn(int(hi-lo+1)))
}

// normal returns a standard normal value (Box-Muller, one of the pair).
func (r *rng) normal() float64 {
	u := r.float()
	if u < 1e-300 {
		u = 1e-300
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// poisson draws a Poisson count with mean lambda (Knuth below 30, a rounded
// normal above: the counts here are per-second arrivals and leaves).
func (r *rng) poisson(lambda float64) int {
	switch {
	case lambda <= 0:
		return 0
	case lambda < 30:
		l := math.Exp(-lambda)
		k, p := 0, r.float()
		for p > l {
			k++
			p *= r.float()
		}
		return k
	}
	n := int(math.Round(lambda + math.Sqrt(lambda)*r.normal()))
	return max(n, 0)
}

// uuid4 returns a random (version 4) UUID from the seeded generator.
func (r *rng) uuid4() uuid.UUID {
	return toUUID(r.p.Uint64(), r.p.Uint64())
}

func toUUID(hi, lo uint64) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], hi)
	binary.BigEndian.PutUint64(u[8:], lo)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// mix is splitmix64's finaliser: a bijection of uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// sessionUUID derives the session id of session number seq: distinct seqs
// give distinct ids (mix is a bijection), so a live session only stores seq.
func sessionUUID(seed uint64, seq uint32) uuid.UUID {
	x := uint64(seq) ^ seed*0x9e3779b97f4a7c15
	return toUUID(mix(x), mix(x^0xd6e8feb86659fd93))
}

// pick returns the index whose cumulative weight covers u in [0, 1).
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// cumulative normalises shares into a cumulative table.
func cumulative(shares []Share) []float64 {
	total := 0.0
	for _, s := range shares {
		total += s.Share
	}
	cum := make([]float64, len(shares))
	acc := 0.0
	for i, s := range shares {
		acc += s.Share
		cum[i] = acc / total
	}
	return cum
}

func popcount(x uint64) int { return bits.OnesCount64(x) }
