package warehouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// EventsVersion is a snapshot of the events table's active parts (queries/events_version.sql),
// read before a figure is computed from the raw rows of a time range, so that the figure can be
// cached with a RowsStamp and served again only while those rows are the same (Unchanged).
//
// Why a stamp that Unchanged accepts means the same rows. The rows of a non-replicated MergeTree
// table are in immutable parts, and only these change which rows hold a given ts:
//
//   - An INSERT adds a part whose block number is taken from the table's counter under the lock
//     that makes it visible (MergeTreeData in 18.16 and current ClickHouse alike), so block numbers
//     grow in the order parts appear: once a snapshot shows horizon N, every later insert gets a
//     number above N, and its rows sit, then and after any merge, in a part whose max_block > N
//     and whose time range [min_time, max_time] (the minmax index of ts) holds their ts.
//   - A merge replaces adjacent parts of a partition by one with their block range, the union of
//     their time ranges and their rows, less the rows it folds: ReplacingMergeTree keeps one row per
//     sort key (space_id, ts, event_id), so it drops copies of an event, which changes no distinct
//     count but does change a count() of rows such as user_failure_rate.sql's attempts.
//   - A mutation (ALTER UPDATE/DELETE, DELETE FROM) rewrites parts under their block range: it is
//     listed in system.mutations, whose set is part of the stamp, and while one runs nothing is
//     versioned.
//   - DROP/DETACH PARTITION and TRUNCATE remove parts; a table dropped and made again (or renamed
//     over) starts its block numbers again and has another metadata time; a restarted server takes
//     its counter from the parts it finds.
//
// A stamp is the snapshot read before the figure was computed: its horizon N, every active part
// with rows of the months of its window (block range, rows, time range), and the table's identity
// (server and its start, metadata time, mutations). Unchanged asks of a later snapshot: the same
// identity; every part whose time range meets the range has max_block and data_version <= N (no
// insert or mutation since) and exactly the rows of the stamp's parts inside its block range (no
// row folded or lost in a merge); and each stamp's part that met the range is inside a part of its
// partition (nothing removed). Then the range holds the same rows as at the stamp: all in blocks <=
// N, so all were in the stamp's parts, and none of those was dropped or lost a row. An insert that
// landed between the snapshot and the figure's query is in the figure, and in the next snapshot in
// a part above N that meets the range, so the figure is computed again: a figure is never served
// after a change to its rows, only sometimes computed again without one (a merge of the range's
// part with a part landed after the stamp: the merged part cannot tell whose rows are whose). Not
// seen: a single part detached by hand (ALTER TABLE events DETACH PART) that had landed after the
// stamp's snapshot.
//
// Nothing is versioned (Versioned false, every figure computed) when the table is not a
// non-replicated MergeTree (a cluster's Distributed table has no parts on this server; a
// Replicated table takes block numbers in ZooKeeper before its parts appear, and fetches parts in
// any order), when its partition key is not toYYYYMM(ts) (min_time and max_time would not bound
// ts), or while a mutation runs.
//
// An EventsVersion is used by one goroutine at a time (it remembers, per older snapshot, which
// of its parts kept all their rows).
type EventsVersion struct {
	why    string // why nothing is versioned; "" when versioned
	snap   *partsSnapshot
	intact map[*partsSnapshot][]bool
}

// partsSnapshot is what one read of events_version.sql saw: shared by every stamp made from it.
type partsSnapshot struct {
	id       eventsIdentity
	horizon  int64
	from, to int64        // the window the parts were read for, unix seconds, inclusive
	parts    []eventsPart // every active part with rows of the window's months
}

// eventsIdentity is what must not change for any stamp to hold.
type eventsIdentity struct {
	host      string
	created   uint32 // the table's metadata modification time
	started   int64  // the server's start, now() - uptime(): +-1 s between two reads
	mutations uint64 // a hash of the table's mutation ids
}

func (a eventsIdentity) same(b eventsIdentity) bool {
	return a.host == b.host && a.created == b.created && a.mutations == b.mutations &&
		a.started-b.started <= 2 && b.started-a.started <= 2
}

// eventsPart is one active part.
type eventsPart struct {
	partition                   string
	minBlock, maxBlock, version int64
	rows                        int64
	minTime, maxTime            int64
}

func (p eventsPart) meets(from, to int64) bool { return p.minTime <= to && p.maxTime >= from }

// inside reports whether p's block range is within q's, in q's partition.
func (p eventsPart) inside(q eventsPart) bool {
	return p.partition == q.partition && q.minBlock <= p.minBlock && p.maxBlock <= q.maxBlock
}

// RowsStamp says which parts held the rows of a time range when a figure of them was computed
// (EventsVersion.Stamp). The zero RowsStamp matches nothing. Stamps of one snapshot are equal
// (==) and share it.
type RowsStamp struct {
	snap *partsSnapshot
}

// Parts is how many parts the stamp's snapshot holds: what it costs to keep (a few dozen bytes
// each).
func (s RowsStamp) Parts() int {
	if s.snap == nil {
		return 0
	}
	return len(s.snap.parts)
}

// versionedEngines are the table engines whose block numbers grow in the order parts appear.
var versionedEngines = []string{"MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
	"CollapsingMergeTree", "VersionedCollapsingMergeTree", "GraphiteMergeTree"}

// versionedPartitionKey is the partition key under which a part's min_time and max_time bound ts
// and a partition id is the month, YYYYMM.
const versionedPartitionKey = "toYYYYMM(ts)"

// ReadEventsVersion reads a snapshot of the parts of events in the months of [from, to]
// (queries/events_version.sql: system tables only). A table it cannot version gives an
// EventsVersion whose Versioned is false (Why says why), not an error.
func ReadEventsVersion(ctx context.Context, conn Querier, from, to time.Time) (*EventsVersion, error) {
	from, to, err := window(from, to, 0)
	if err != nil {
		return nil, fmt.Errorf("events version: %w", err)
	}
	var (
		engine, key                           string
		pending                               uint64
		partitions                            []string
		minBlocks, maxBlocks, versions, nrows []int64
		minTimes, maxTimes                    []uint32
		snap                                  = &partsSnapshot{from: from.Unix(), to: to.Unix()}
		v                                     = &EventsVersion{snap: snap}
	)
	err = conn.QueryRow(ctx, queries["events_version"],
		clickhouse.DateNamed("from", from, clickhouse.Seconds), clickhouse.DateNamed("to", to, clickhouse.Seconds)).
		Scan(&engine, &key, &snap.id.created, &snap.id.host, &snap.id.started, &pending, &snap.id.mutations, &snap.horizon,
			&partitions, &minBlocks, &maxBlocks, &versions, &nrows, &minTimes, &maxTimes)
	if err != nil {
		return nil, fmt.Errorf("query events version: %w", err)
	}
	switch {
	case engine == "":
		v.why = "no table events"
	case !slices.Contains(versionedEngines, engine):
		v.why = "events is a " + engine + " table (a cluster's Distributed table, or replicated): its block numbers do not say which rows changed"
	case key != versionedPartitionKey:
		v.why = "events is partitioned by " + key + ", not " + versionedPartitionKey + ": its parts' time ranges may not bound ts"
	case pending > 0:
		v.why = fmt.Sprintf("%d mutation(s) of events running", pending)
	}
	snap.parts = make([]eventsPart, len(partitions))
	for i := range partitions {
		p := eventsPart{partition: partitions[i], minBlock: minBlocks[i], maxBlock: maxBlocks[i], version: versions[i],
			rows: nrows[i], minTime: int64(minTimes[i]), maxTime: int64(maxTimes[i])}
		if p.minTime == 0 || p.maxTime < p.minTime {
			v.why = "a part of events has no time range (" + p.partition + ")"
		}
		snap.horizon = max(snap.horizon, p.maxBlock, p.version) // the counter has passed both
		snap.parts[i] = p
	}
	return v, nil
}

// Versioned reports whether the snapshot can stamp rows; when false, Stamp gives stamps that
// match nothing and Unchanged is always false.
func (v *EventsVersion) Versioned() bool { return v.why == "" && v.snap != nil }

// Why says why the snapshot is not Versioned ("" when it is).
func (v *EventsVersion) Why() string { return v.why }

// covers reports whether [from, to] (unix seconds) is within the window s was read for.
func (s *partsSnapshot) covers(from, to int64) bool {
	return from <= to && from >= s.from && to <= s.to
}

// Stamp returns the stamp of the rows with ts in [from, to] (unix seconds, inclusive; within the
// window the snapshot was read for) as of this snapshot. A figure of those rows computed after
// the snapshot was read may be cached with it.
func (v *EventsVersion) Stamp(from, to int64) RowsStamp {
	if !v.Versioned() || !v.snap.covers(from, to) {
		return RowsStamp{}
	}
	return RowsStamp{snap: v.snap}
}

// Unchanged reports whether the rows with ts in [from, to] are, in this snapshot, the rows they
// were when s was stamped for the same range (see EventsVersion for why).
func (v *EventsVersion) Unchanged(s RowsStamp, from, to int64) bool {
	old := s.snap
	if !v.Versioned() || old == nil || !v.snap.covers(from, to) || !old.covers(from, to) ||
		!v.snap.id.same(old.id) || v.snap.horizon < old.horizon {
		return false
	}
	intact := v.intactSince(old)
	for i, q := range v.snap.parts {
		if q.meets(from, to) && !intact[i] {
			return false // an insert, a mutation, a folded or lost row since the stamp
		}
	}
	for _, p := range old.parts {
		if p.meets(from, to) && !slices.ContainsFunc(v.snap.parts, p.inside) {
			return false // removed
		}
	}
	return true
}

// intactSince reports, for each part of v's snapshot, whether it holds only blocks up to old's
// horizon and exactly the rows of old's parts inside its block range: a part of old itself, or
// a merge of old's parts that folded no row.
func (v *EventsVersion) intactSince(old *partsSnapshot) []bool {
	if ok, done := v.intact[old]; done {
		return ok
	}
	ok := make([]bool, len(v.snap.parts))
	for i, q := range v.snap.parts {
		if q.maxBlock > old.horizon || q.version > old.horizon {
			continue
		}
		var rows int64
		n := 0
		for _, p := range old.parts {
			if p.inside(q) {
				rows += p.rows
				n++
			}
		}
		ok[i] = n > 0 && rows == q.rows
	}
	if v.intact == nil {
		v.intact = map[*partsSnapshot][]bool{}
	}
	v.intact[old] = ok
	return ok
}

// Parts returns how many parts the snapshot holds (for logs and tests).
func (v *EventsVersion) Parts() int {
	if v.snap == nil {
		return 0
	}
	return len(v.snap.parts)
}
