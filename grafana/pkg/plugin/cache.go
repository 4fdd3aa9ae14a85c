package plugin

import (
	"sync"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// curveCache keeps concurrency curves (the costliest query) keyed by room, window and bucket, with
// the rollup fingerprint (warehouse.RollupVersion) they were computed at. A hit is served only
// while the fingerprint is unchanged, so a cached curve is always exact: any insert or merge of
// the month partitions up to the window's end invalidates it. Shared by every viewer of the
// datasource; bounded by points, least recently used out first.
type curveCache struct {
	mu        sync.Mutex
	maxPoints int
	points    int
	entries   lru[curveKey, curveEntry]
}

type curveKey struct {
	room     string
	from, to int64
	step     time.Duration
}

type curveEntry struct {
	version string
	series  warehouse.ConcurrencySeries
}

func newCurveCache(maxPoints int) *curveCache {
	return &curveCache{maxPoints: maxPoints, entries: newLRU[curveKey, curveEntry]()}
}

func (c *curveCache) get(k curveKey, version string) (warehouse.ConcurrencySeries, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries.find(k)
	if e == nil {
		return warehouse.ConcurrencySeries{}, false
	}
	if e.val.version != version {
		c.remove(e)
		return warehouse.ConcurrencySeries{}, false
	}
	c.entries.touch(e)
	return e.val.series, true
}

func (c *curveCache) put(k curveKey, version string, s warehouse.ConcurrencySeries) {
	n := len(s.Time)
	if n > c.maxPoints/4 {
		return // one curve may not take over the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries.find(k); e != nil {
		c.remove(e)
	}
	c.entries.add(k, curveEntry{version: version, series: s})
	c.points += n
	for c.points > c.maxPoints {
		c.remove(c.entries.oldest())
	}
}

func (c *curveCache) remove(e *lruEntry[curveKey, curveEntry]) {
	c.entries.remove(e)
	c.points -= len(e.val.series.Time)
}
