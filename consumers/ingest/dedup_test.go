package ingest

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestIndexVerdicts(t *testing.T) {
	var landed atomic.Int64
	now := func() time.Time { return time.Unix(100*60, 0) }
	x := newIndex(10*time.Minute, 1000, now, &landed)
	p := pending{}
	if x.check(50*60, uuid.New(), p) != unknown {
		t.Fatal("an index never loaded knows nothing: want unknown")
	}
	x.lo = 40 // as a load from minute 40 leaves it
	a, b := uuid.New(), uuid.New()
	f := func(sec int64, id uuid.UUID, want verdict) {
		t.Helper()
		if got := x.check(sec, id, p); got != want {
			t.Fatalf("check(minute %d, %s) = %d, want %d (lo %d)", sec/60, id, got, want, x.lo)
		}
	}
	f(50*60, a, fresh)
	f(50*60, a, duplicate) // the same second
	f(50*60+59, a, fresh)  // another second's event, even with the same id, is another key, as in events' sort key
	f(51*60, a, fresh)     // and in another minute
	f(39*60, b, unknown)   // before the window: look it up
	// The newest minute moves to 70: minutes before 60 fall out of the window, but the batch that
	// added minute 50 and 51 has not landed yet, so they stay (a lookup could not find them).
	f(70*60, b, fresh)
	if x.lo != 50 {
		t.Fatalf("lo = %d with minute 50 in flight, want 50", x.lo)
	}
	f(50*60, a, duplicate)
	// Sent but not landed, they stay.
	x.sent(p, 1)
	f(71*60, uuid.New(), fresh)
	if x.lo != 50 {
		t.Fatalf("lo = %d with minute 50's batch sent but not landed, want 50", x.lo)
	}
	// Once that batch landed, the next eviction gives them up, but not the minutes of the
	// batch being filled (pending).
	landed.Store(1)
	f(72*60, uuid.New(), fresh)
	if x.lo != 62 {
		t.Fatalf("lo = %d after the batch landed, want 62 (72 - 10)", x.lo)
	}
	f(90*60, uuid.New(), fresh) // the window would start at 80: minutes 71 and 72 are pending
	if x.lo != 71 {
		t.Fatalf("lo = %d with minutes 71 and 72 pending in the batch being filled, want 71", x.lo)
	}
	x.sent(p, 2)
	landed.Store(2)
	f(91*60, uuid.New(), fresh)
	if x.lo != 81 {
		t.Fatalf("lo = %d after the second batch landed, want 81", x.lo)
	}
	f(50*60, a, unknown)
	// A ts a day ahead (valid) does not make the index give up the present: the newest minute
	// is clamped to the wall clock's next one (101), so lo is at most 101 - 10.
	f(100*60+24*3600, uuid.New(), fresh)
	if x.lo > 101-10 {
		t.Fatalf("lo = %d after an event a day ahead, want at most %d (the wall clock's window)", x.lo, 101-10)
	}
}

func TestIndexMaxIDs(t *testing.T) {
	var landed atomic.Int64
	x := newIndex(time.Hour, 10, time.Now, &landed)
	x.coverAll()
	x.lo = 0
	p := pending{}
	for m := int64(1); m <= 5; m++ {
		for range 4 {
			x.check(m*60, uuid.New(), p)
		}
	}
	if x.ids != 20 || x.lo > 1 {
		t.Fatalf("%d ids, lo %d: with every batch in flight nothing may be given up", x.ids, x.lo)
	}
	x.sent(p, 1)
	landed.Store(1)
	x.check(6*60, uuid.New(), p)
	if x.ids > 10 || x.lo < 3 {
		t.Fatalf("%d ids, lo %d after the batch landed: want at most 10 ids", x.ids, x.lo)
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	ids := make([]uuid.UUID, 5000)
	for i := range ids {
		ids[i] = uuid.New()
		if !s.add(ids[i]) {
			t.Fatalf("add #%d: not new", i)
		}
	}
	for i, id := range ids {
		if !s.has(id) || s.add(id) {
			t.Fatalf("id #%d lost or added twice after growing to %d slots", i, len(s.slots))
		}
	}
	if s.len() != len(ids) || s.has(uuid.New()) || s.add(uuid.Nil) {
		t.Fatalf("len %d, want %d; an unknown or nil id must not be found or stored", s.len(), len(ids))
	}
}

// TestIDSetReserve: a set reserved for n ids takes them without growing, and a second's set of
// the index starts reserved for as many ids as the second before it holds.
func TestIDSetReserve(t *testing.T) {
	var s idSet
	s.reserve(10_000)
	size := len(s.slots)
	for range 10_000 {
		s.add(uuid.New())
	}
	if len(s.slots) != size || s.len() != 10_000 {
		t.Fatalf("reserved %d slots, grew to %d for %d ids", size, len(s.slots), s.len())
	}
	x := newIndex(15*time.Minute, 1_000_000, time.Now, new(atomic.Int64))
	x.coverAll()
	base := time.Now().Unix() / 60 * 60
	for range 3000 {
		x.check(base, uuid.New(), pending{})
	}
	x.check(base+1, uuid.New(), pending{})
	if got := len(x.minutes[base/60].ids.secs[1].slots); got*3 < 3000*4 {
		t.Fatalf("the next second starts with %d slots, want room for the 3000 ids of the one before", got)
	}
	if n := x.minutes[base/60].ids.len(); n != 3001 || x.ids != 3001 {
		t.Fatalf("the minute holds %d ids, the index %d, want 3001", n, x.ids)
	}
}

// TestIDSetRemove removes ids in random order from a set kept small (many probe runs wrap
// around the end of the slots) and checks it against a map after every step.
func TestIDSetRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s idSet
	model := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for step := range 20_000 {
		if len(ids) == 0 || rng.IntN(3) > 0 && len(ids) < 180 {
			var id uuid.UUID
			for i := range id {
				id[i] = byte(rng.Uint32())
			}
			ids = append(ids, id)
			model[id] = true
			if !s.add(id) {
				t.Fatalf("step %d: add of a new id said not new", step)
			}
		} else {
			k := rng.IntN(len(ids))
			id := ids[k]
			ids[k] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			delete(model, id)
			if !s.remove(id) || s.remove(id) {
				t.Fatalf("step %d: remove of a present id failed, or a second remove succeeded", step)
			}
		}
		if s.len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(model))
		}
		if step%97 == 0 {
			for _, id := range ids {
				if !s.has(id) {
					t.Fatalf("step %d: id lost after removals", step)
				}
			}
		}
	}
	if s.remove(uuid.New()) || s.remove(uuid.Nil) {
		t.Fatal("remove of an unknown or nil id succeeded")
	}
}

func TestIndexForget(t *testing.T) {
	var landed atomic.Int64
	x := newIndex(15*time.Minute, 1000, time.Now, &landed)
	x.coverAll()
	sec := time.Now().Unix()
	id := uuid.New()
	if v := x.check(sec, id, pending{}); v != fresh {
		t.Fatalf("first check: %v, want fresh", v)
	}
	x.forget(sec, id)
	if v := x.check(sec, id, pending{}); v != fresh || x.ids != 1 {
		t.Fatalf("check after forget: %v with %d ids, want fresh with 1: a refused event must be checked again", v, x.ids)
	}
}
