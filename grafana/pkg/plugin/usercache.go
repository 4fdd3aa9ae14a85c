package plugin

import (
	"sync"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// userCache keeps user_failure_rate.sql's figures of whole buckets (a room, a bucket length that
// is a whole number of minutes, a bucket start), each with the warehouse.RowsStamp of the events
// it was computed from. A bucket's figures depend only on the rows of events of the room whose ts
// falls in it, so a bucket is served from the cache only while warehouse.EventsVersion.Unchanged
// says those rows are the same (see there why that never serves a figure after its rows changed),
// and its stamp then moves to the newer snapshot. Shared by every viewer of the datasource.
//
// Bounded by weight, least recently used out first: a bucket weighs 1 and the snapshot of parts
// its stamp keeps 1 + its parts, once however many buckets share it (a refresh restamps every
// bucket it serves with its own snapshot, so few are kept).
type userCache struct {
	mu      sync.Mutex
	max     int
	weight  int
	stamps  map[warehouse.RowsStamp]int // buckets per stamp
	entries lru[userKey, userEntry]
}

// userKey is one bucket of one room: [start, start+step) in unix seconds.
type userKey struct {
	room        string
	step, start int64
}

// userFigures are user_failure_rate.sql's columns for one bucket. full is false for figures read
// without the failed users and the rate (warehouse.UserAttempts, for the retry page).
type userFigures struct {
	users, failed, attempts int64
	rate                    float64
	hasRate                 bool
	full                    bool
}

type userEntry struct {
	stamp warehouse.RowsStamp
	fig   userFigures
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, stamps: map[warehouse.RowsStamp]int{}, entries: newLRU[userKey, userEntry]()}
}

// get returns the figures of k if they are cached, full when full is asked, and their rows are
// unchanged in v; it then restamps them with v. A bucket whose rows changed is dropped.
func (c *userCache) get(k userKey, v *warehouse.EventsVersion, full bool) (userFigures, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries.find(k)
	if e == nil {
		return userFigures{}, false
	}
	last := k.start + k.step - 1
	if !v.Unchanged(e.val.stamp, k.start, last) {
		c.remove(e)
		return userFigures{}, false
	}
	// Unchanged: the rows are those the figures were computed from, so the figures are this
	// snapshot's too, and the next check can start from it (a merge of parts it already holds
	// then changes nothing).
	c.entries.touch(e)
	if s := v.Stamp(k.start, last); s != e.val.stamp {
		c.unref(e.val.stamp)
		e.val.stamp = s
		c.ref(s)
		c.evict()
	}
	if full && !e.val.fig.full {
		return userFigures{}, false
	}
	return e.val.fig, true
}

// put stores the figures of k, computed after the snapshot stamp comes from was read.
func (c *userCache) put(k userKey, stamp warehouse.RowsStamp, fig userFigures) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries.find(k); e != nil {
		c.remove(e)
	}
	c.entries.add(k, userEntry{stamp: stamp, fig: fig})
	c.weight++
	c.ref(stamp)
	c.evict()
}

func (c *userCache) ref(s warehouse.RowsStamp) {
	if c.stamps[s] == 0 {
		c.weight += 1 + s.Parts()
	}
	c.stamps[s]++
}

func (c *userCache) unref(s warehouse.RowsStamp) {
	if c.stamps[s]--; c.stamps[s] == 0 {
		delete(c.stamps, s)
		c.weight -= 1 + s.Parts()
	}
}

func (c *userCache) evict() {
	for c.weight > c.max && c.entries.len() > 1 {
		c.remove(c.entries.oldest())
	}
}

func (c *userCache) remove(e *lruEntry[userKey, userEntry]) {
	c.entries.remove(e)
	c.weight--
	c.unref(e.val.stamp)
}

// size returns how many buckets are cached and their weight.
func (c *userCache) size() (buckets, weight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.len(), c.weight
}
