package plugin

import (
	"container/list"
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
	order     *list.List // of *curveEntry, most recent first
	byKey     map[curveKey]*list.Element
}

type curveKey struct {
	room     string
	from, to int64
	step     time.Duration
}

type curveEntry struct {
	key     curveKey
	version string
	series  warehouse.ConcurrencySeries
}

func newCurveCache(maxPoints int) *curveCache {
	return &curveCache{maxPoints: maxPoints, order: list.New(), byKey: map[curveKey]*list.Element{}}
}

func (c *curveCache) get(k curveKey, version string) (warehouse.ConcurrencySeries, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return warehouse.ConcurrencySeries{}, false
	}
	e := el.Value.(*curveEntry)
	if e.version != version {
		c.remove(el)
		return warehouse.ConcurrencySeries{}, false
	}
	c.order.MoveToFront(el)
	return e.series, true
}

func (c *curveCache) put(k curveKey, version string, s warehouse.ConcurrencySeries) {
	n := len(s.Time)
	if n > c.maxPoints/4 {
		return // one curve may not take over the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	c.byKey[k] = c.order.PushFront(&curveEntry{key: k, version: version, series: s})
	c.points += n
	for c.points > c.maxPoints {
		c.remove(c.order.Back())
	}
}

func (c *curveCache) remove(el *list.Element) {
	e := el.Value.(*curveEntry)
	c.order.Remove(el)
	delete(c.byKey, e.key)
	c.points -= len(e.series.Time)
}
