package plugin

import "container/list"

// lru is the recency order and the index of a cache's entries, the least recently used at the
// back. The caches built on it (curveCache, userCache) keep their own lock and weight, and call
// remove for every entry they drop so that the weight follows.
type lru[K comparable, V any] struct {
	order *list.List // of *lruEntry[K, V], most recent first
	byKey map[K]*lruEntry[K, V]
}

// lruEntry is one cached value; val may be changed in place.
type lruEntry[K comparable, V any] struct {
	key K
	val V
	el  *list.Element
}

func newLRU[K comparable, V any]() lru[K, V] {
	return lru[K, V]{order: list.New(), byKey: map[K]*lruEntry[K, V]{}}
}

// find returns the entry of k, or nil; it does not change the order (see touch).
func (l *lru[K, V]) find(k K) *lruEntry[K, V] { return l.byKey[k] }

// touch makes e the most recently used.
func (l *lru[K, V]) touch(e *lruEntry[K, V]) { l.order.MoveToFront(e.el) }

// add makes v the entry of k, the most recently used; k must not have one (remove it first).
func (l *lru[K, V]) add(k K, v V) *lruEntry[K, V] {
	e := &lruEntry[K, V]{key: k, val: v}
	e.el = l.order.PushFront(e)
	l.byKey[k] = e
	return e
}

// remove drops e.
func (l *lru[K, V]) remove(e *lruEntry[K, V]) {
	l.order.Remove(e.el)
	delete(l.byKey, e.key)
}

// oldest returns the least recently used entry, or nil when there is none.
func (l *lru[K, V]) oldest() *lruEntry[K, V] {
	if el := l.order.Back(); el != nil {
		return el.Value.(*lruEntry[K, V])
	}
	return nil
}

func (l *lru[K, V]) len() int { return len(l.byKey) }
