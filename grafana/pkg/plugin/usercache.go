package plugin

import (
	"container/list"
	"sync"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// userCache keeps user_failure_rate.sql's figures of whole buckets (a room, a bucket length that
// is a whole number of minutes, a bucket start), each with the warehouse.RowsStamp of the events
// it was computed from. A bucket's figures depend only on the attempt events of the room whose ts
// falls in it, so a bucket is served from the cache only while warehouse.EventsVersion.Unchanged
// says those rows are the same events (see there why that never serves a figure after its rows
// changed), and its stamp is then moved to the newer snapshot. Bounded by entries, least recently
// used out first; shared by every viewer of the datasource.
type userCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of *userEntry, most recent first
	byKey   map[userKey]*list.Element
	entries int
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
	key   userKey
	stamp warehouse.RowsStamp
	fig   userFigures
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, order: list.New(), byKey: map[userKey]*list.Element{}}
}

// get returns the figures of k if they are cached, full when full is asked, and their rows are
// unchanged in v; it then restamps them with v. A bucket whose rows changed is dropped.
func (c *userCache) get(k userKey, v warehouse.EventsVersion, full bool) (userFigures, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return userFigures{}, false
	}
	e := el.Value.(*userEntry)
	last := k.start + k.step - 1
	if !v.Unchanged(e.stamp, k.start, last) {
		c.remove(el)
		return userFigures{}, false
	}
	// Unchanged: the rows are the events they were when the figures were computed, so the
	// figures are those of this snapshot too, and the next check can start from it (a merge of
	// parts this snapshot already holds then changes nothing).
	e.stamp = v.Stamp(k.start, last)
	c.order.MoveToFront(el)
	if full && !e.fig.full {
		return userFigures{}, false
	}
	return e.fig, true
}

// put stores the figures of k, computed after the snapshot stamp comes from was read.
func (c *userCache) put(k userKey, stamp warehouse.RowsStamp, fig userFigures) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	c.byKey[k] = c.order.PushFront(&userEntry{key: k, stamp: stamp, fig: fig})
	c.entries++
	for c.entries > c.max {
		c.remove(c.order.Back())
	}
}

func (c *userCache) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.byKey, el.Value.(*userEntry).key)
	c.entries--
}

// len returns how many buckets are cached.
func (c *userCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries
}
