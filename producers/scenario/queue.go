package scenario

import "github.com/spacepulse/spacepulse/schemas"

// retryHeap is a binary min-heap of pending attempts by due time (typed, so
// no interface calls or boxing per push).
type retryHeap struct{ a []retry }

func (h *retryHeap) len() int    { return len(h.a) }
func (h *retryHeap) min() *retry { return &h.a[0] }

func (h *retryHeap) push(r retry) {
	h.a = append(h.a, r)
	i := len(h.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.a[p].due <= r.due {
			break
		}
		h.a[i] = h.a[p]
		i = p
	}
	h.a[i] = r
}

func (h *retryHeap) pop() retry {
	top := h.a[0]
	last := h.a[len(h.a)-1]
	h.a = h.a[:len(h.a)-1]
	n := len(h.a)
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h.a[c+1].due < h.a[c].due {
			c++
		}
		if last.due <= h.a[c].due {
			break
		}
		h.a[i] = h.a[c]
		i = c
	}
	h.a[i] = last
	return top
}

// reorder is the transport's bounded reorder buffer. Events wait in slots,
// chained per delivery millisecond on a timing wheel of wheelSize ms (FIFO
// within a millisecond, so the output is deterministic); the rare event due
// further ahead than the wheel waits in an overflow heap. It holds only the
// events in flight (about the event rate times the mean delay), never the
// whole run, and push and pop are O(1).
type reorder struct {
	slots  []schemas.Event
	meta   []slotMeta
	free   []int32
	head   []int32 // per wheel bucket: first slot+1, 0 when empty
	tail   []int32
	cursor int64 // every wheel entry is due in [cursor, cursor+wheelSize)
	wheel  int   // entries on the wheel
	over   []pendingDelivery
	seq    uint64
	next   int32 // slot filled by the last slot() call
}

const wheelSize = 1 << 16 // ms, 65 s: the 1 % delivered later wait in the overflow heap

type slotMeta struct {
	at   int64
	seq  uint64
	next int32 // next slot+1 in the bucket
}

type pendingDelivery struct {
	at   int64
	seq  uint64
	slot int32
}

func (a pendingDelivery) less(b pendingDelivery) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (q *reorder) len() int { return q.wheel + len(q.over) }

// slot returns a free event slot; the next push schedules it.
func (q *reorder) slot() *schemas.Event {
	if n := len(q.free); n > 0 {
		q.next = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		q.slots = append(q.slots, schemas.Event{})
		q.meta = append(q.meta, slotMeta{})
		q.next = int32(len(q.slots) - 1)
	}
	return &q.slots[q.next]
}

// push schedules the slot of the last slot call for delivery at at; ts
// (<= at) is its event time, no earlier than any event pushed before.
func (q *reorder) push(ts, at int64) {
	if q.head == nil {
		q.head = make([]int32, wheelSize)
		q.tail = make([]int32, wheelSize)
	}
	if q.wheel == 0 && ts > q.cursor {
		q.cursor = ts
	}
	s := q.next
	q.meta[s] = slotMeta{at: at, seq: q.seq}
	q.seq++
	if at-q.cursor >= wheelSize {
		q.pushOver(pendingDelivery{at: at, seq: q.meta[s].seq, slot: s})
		return
	}
	b := at & (wheelSize - 1)
	if q.head[b] == 0 {
		q.head[b] = s + 1
	} else {
		q.meta[q.tail[b]-1].next = s + 1
	}
	q.tail[b] = s + 1
	q.wheel++
}

// pop copies into ev the next event due at or before limit and returns its
// delivery time; ok is false when none is due by then.
func (q *reorder) pop(ev *schemas.Event, limit int64) (at int64, ok bool) {
	for q.wheel > 0 && q.head[q.cursor&(wheelSize-1)] == 0 && q.cursor < limit {
		q.cursor++
	}
	wheelOK := q.wheel > 0 && q.cursor <= limit && q.head[q.cursor&(wheelSize-1)] != 0
	overOK := len(q.over) > 0 && q.over[0].at <= limit
	var s int32
	switch {
	case wheelOK && (!overOK || q.wheelFirst()):
		b := q.cursor & (wheelSize - 1)
		s = q.head[b] - 1
		q.head[b] = q.meta[s].next
		q.meta[s].next = 0
		q.wheel--
	case overOK:
		s = q.popOver().slot
	default:
		return 0, false
	}
	*ev = q.slots[s]
	q.slots[s] = schemas.Event{}
	q.free = append(q.free, s)
	return q.meta[s].at, true
}

func (q *reorder) wheelFirst() bool {
	m := q.meta[q.head[q.cursor&(wheelSize-1)]-1]
	return pendingDelivery{at: m.at, seq: m.seq}.less(q.over[0])
}

func (q *reorder) pushOver(d pendingDelivery) {
	q.over = append(q.over, d)
	i := len(q.over) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !d.less(q.over[p]) {
			break
		}
		q.over[i] = q.over[p]
		i = p
	}
	q.over[i] = d
}

func (q *reorder) popOver() pendingDelivery {
	top := q.over[0]
	last := q.over[len(q.over)-1]
	q.over = q.over[:len(q.over)-1]
	n := len(q.over)
	if n > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if c+1 < n && q.over[c+1].less(q.over[c]) {
				c++
			}
			if !q.over[c].less(last) {
				break
			}
			q.over[i] = q.over[c]
			i = c
		}
		q.over[i] = last
	}
	return top
}
