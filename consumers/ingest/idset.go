package ingest

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// idSet is a set of event ids: open addressing with linear probing over a flat slice of 16-byte
// keys, no pointers (the GC never scans it). Measured with the index around it
// (BenchmarkIndexCheck, one set per second, see minuteIDs): 26 bytes an id, 42-61 ns an event. The nil UUID marks an empty
// slot; it is never a valid event id (schemas rejects it).
type idSet struct {
	slots [][2]uint64 // len a power of two, or 0
	n     int
}

func idKey(id uuid.UUID) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(id[:8]), binary.LittleEndian.Uint64(id[8:])}
}

func (s *idSet) len() int { return s.n }

// home is the slot where k's probe starts.
func (s *idSet) home(k [2]uint64) int {
	h := (k[0] ^ k[1]*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return int(h>>32) & (len(s.slots) - 1)
}

func (s *idSet) slot(k [2]uint64) int {
	mask := len(s.slots) - 1
	i := s.home(k)
	for s.slots[i] != k && s.slots[i] != ([2]uint64{}) {
		i = (i + 1) & mask
	}
	return i
}

// has reports whether id is in the set.
func (s *idSet) has(id uuid.UUID) bool {
	if s.n == 0 {
		return false
	}
	k := idKey(id)
	return s.slots[s.slot(k)] == k
}

// add puts id in the set and reports whether it was new.
func (s *idSet) add(id uuid.UUID) bool {
	k := idKey(id)
	if k == ([2]uint64{}) {
		return false // never stored: see idSet
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	i := s.slot(k)
	if s.slots[i] == k {
		return false
	}
	s.slots[i] = k
	s.n++
	return true
}

// remove takes id out of the set and reports whether it was there. The keys after it in its
// probe run move back into the gap (backward-shift deletion), so no tombstone is left and every
// key stays reachable from its home slot.
func (s *idSet) remove(id uuid.UUID) bool {
	k := idKey(id)
	if s.n == 0 || k == ([2]uint64{}) {
		return false
	}
	i := s.slot(k)
	if s.slots[i] != k {
		return false
	}
	mask := len(s.slots) - 1
	for j := i; ; {
		s.slots[i] = [2]uint64{}
		for {
			j = (j + 1) & mask
			if s.slots[j] == ([2]uint64{}) {
				s.n--
				return true
			}
			// The key at j may move to the gap at i unless its home lies cyclically in (i, j].
			h := s.home(s.slots[j])
			if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
				break
			}
		}
		s.slots[i] = s.slots[j]
		i = j
	}
}

func (s *idSet) grow() { s.resize(max(minSlots, 2*len(s.slots))) }

// reserve makes room for n ids without growing (an empty set only).
func (s *idSet) reserve(n int) {
	if s.n > 0 {
		return
	}
	size := minSlots
	for size*3 < n*4 {
		size *= 2
	}
	s.resize(size)
}

// minSlots is the size of a set's first table.
const minSlots = 64

// minuteIDs are the event ids of one minute of event time, in one idSet per second. Events
// arrive roughly in event-time order, so the set of the second being filled stays in the CPU's
// cache while its events arrive (tens of KB at thousands of events a second), where one set per
// minute took a cache miss per event. A second's set starts as large as the second before it
// ended, instead of growing by doubling.
type minuteIDs struct {
	secs [60]idSet
	n    int
}

func secondOf(sec int64) int { return int(sec - floorDiv(sec, 60)*60) }

func (m *minuteIDs) len() int { return m.n }

// add puts id, of unix second sec, in the set and reports whether it was new.
func (m *minuteIDs) add(sec int64, id uuid.UUID) bool {
	i := secondOf(sec)
	s := &m.secs[i]
	if s.slots == nil && i > 0 {
		s.reserve(m.secs[i-1].len())
	}
	if !s.add(id) {
		return false
	}
	m.n++
	return true
}

// remove takes id, of unix second sec, out of the set and reports whether it was there.
func (m *minuteIDs) remove(sec int64, id uuid.UUID) bool {
	if !m.secs[secondOf(sec)].remove(id) {
		return false
	}
	m.n--
	return true
}

// resize moves the set into a table of size slots (a power of two, more than n*4/3).
func (s *idSet) resize(size int) {
	old := s.slots
	s.slots = make([][2]uint64, size)
	for _, k := range old {
		if k != ([2]uint64{}) {
			s.slots[s.slot(k)] = k
		}
	}
}
