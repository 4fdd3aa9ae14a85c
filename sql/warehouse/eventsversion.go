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
// table are immutable parts, and only these change which rows a part range holds:
//
//   - An INSERT adds a part whose block number is taken from the table's counter under the lock
//     that makes it visible (MergeTreeData in 18.16 and current ClickHouse alike), so block numbers
//     grow in the order parts appear: once a snapshot shows horizon N, every insert not in it gets
//     a number above N, and its rows sit, now and after any merge, in a part whose max_block > N
//     and whose time range [min_time, max_time] (the minmax index of ts) holds their ts.
//   - A merge replaces adjacent parts of a partition by one with their block range and the union
//     of their time ranges. It drops no event: ReplacingMergeTree folds rows of one sort key
//     (space_id, ts, event_id), which are copies of one event.
//   - A mutation (ALTER UPDATE/DELETE, DELETE FROM) rewrites parts under their block range: it is
//     listed in system.mutations, whose set is part of the stamp, and while one is running nothing
//     is versioned.
//   - DROP/DETACH PARTITION, TRUNCATE remove parts without a successor; a table dropped and made
//     again (or renamed over) starts its block numbers again and has another metadata time; a
//     restarted server takes its counter from the parts it finds.
//
// A stamp keeps the horizon N of the snapshot read before the figure was computed, the block
// ranges of the parts whose time range met the range then (its covering parts), and the table's
// identity (server, start, metadata time, mutations). Unchanged asks of a later snapshot: the same
// identity; no part meeting the range with max_block or data_version above N (no insert or
// mutation since); and each covering range still inside one part of its partition (nothing
// removed: a merge's part contains its inputs' ranges). Then the range holds exactly the events
// it held at the first snapshot: every event in it came in a block <= N, so was in a covering
// part, and each covering part's events are still there. An insert that landed between the
// snapshot and the figure's query is in the figure, and at the next snapshot in a part above N
// that meets the range, so the figure is computed again: a figure is never served after a change
// to its rows, only sometimes recomputed without one (a merge of an old part with a new one
// meeting the range). Not seen: a single part detached by hand (ALTER TABLE events DETACH PART)
// that had landed after the snapshot.
//
// Nothing is versioned (Versioned false, every figure computed) when the table is not a
// non-replicated MergeTree (a cluster's Distributed table has no parts on this server; a
// Replicated table takes block numbers in ZooKeeper before its parts appear, and fetches parts in
// any order), when its partition key is not toYYYYMM(ts) (min_time and max_time would not bound
// ts), or while a mutation runs.
type EventsVersion struct {
	why      string // why nothing is versioned; "" when versioned
	id       eventsIdentity
	horizon  int64
	from, to int64 // the window the parts were read for, unix seconds, inclusive
	parts    []eventsPart
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

// eventsPart is one active part: its partition, block range, data version and time range.
type eventsPart struct {
	partition                   string
	minBlock, maxBlock, version int64
	minTime, maxTime            int64
}

// blockRange is the partition and block range of a part.
type blockRange struct {
	partition string
	min, max  int64
}

// RowsStamp says which parts held the rows of a time range when a figure of them was computed
// (EventsVersion.Stamp). The zero RowsStamp matches nothing.
type RowsStamp struct {
	id       eventsIdentity
	horizon  int64
	covering []blockRange
	valid    bool
}

// versionedEngines are the table engines whose block numbers grow in the order parts appear.
var versionedEngines = []string{"MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
	"CollapsingMergeTree", "VersionedCollapsingMergeTree", "GraphiteMergeTree"}

// versionedPartitionKey is the partition key under which a part's min_time and max_time bound ts.
const versionedPartitionKey = "toYYYYMM(ts)"

// ReadEventsVersion reads a snapshot of the parts of events whose rows may fall in [from, to]
// (queries/events_version.sql: system tables only). A table it cannot version gives an
// EventsVersion whose Versioned is false (Why says why), not an error.
func ReadEventsVersion(ctx context.Context, conn Querier, from, to time.Time) (EventsVersion, error) {
	from, to, err := window(from, to, 0)
	if err != nil {
		return EventsVersion{}, fmt.Errorf("events version: %w", err)
	}
	var (
		engine, key                    string
		pending                        uint64
		partitions                     []string
		minBlocks, maxBlocks, versions []int64
		minTimes, maxTimes             []uint32
		v                              = EventsVersion{from: from.Unix(), to: to.Unix()}
	)
	err = conn.QueryRow(ctx, queries["events_version"],
		clickhouse.DateNamed("from", from, clickhouse.Seconds), clickhouse.DateNamed("to", to, clickhouse.Seconds)).
		Scan(&engine, &key, &v.id.created, &v.id.host, &v.id.started, &pending, &v.id.mutations, &v.horizon,
			&partitions, &minBlocks, &maxBlocks, &versions, &minTimes, &maxTimes)
	if err != nil {
		return EventsVersion{}, fmt.Errorf("query events version: %w", err)
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
	v.parts = make([]eventsPart, len(partitions))
	for i := range partitions {
		p := eventsPart{partition: partitions[i], minBlock: minBlocks[i], maxBlock: maxBlocks[i], version: versions[i],
			minTime: int64(minTimes[i]), maxTime: int64(maxTimes[i])}
		if p.minTime == 0 || p.maxTime < p.minTime {
			v.why = "a part of events has no time range (" + p.partition + ")"
		}
		v.horizon = max(v.horizon, p.maxBlock)
		v.parts[i] = p
	}
	return v, nil
}

// Versioned reports whether the snapshot can stamp rows; when false, Stamp gives stamps that
// match nothing and Unchanged is always false.
func (v EventsVersion) Versioned() bool { return v.why == "" && v.to != 0 }

// Why says why the snapshot is not Versioned ("" when it is).
func (v EventsVersion) Why() string { return v.why }

// inside reports whether [from, to] (unix seconds) is within the window the parts were read for.
func (v EventsVersion) inside(from, to int64) bool {
	return v.Versioned() && from <= to && from >= v.from && to <= v.to
}

// Stamp returns the stamp of the rows with ts in [from, to] (unix seconds, inclusive; within the
// window the snapshot was read for) as of this snapshot. A figure of those rows computed after
// the snapshot was read may be cached with it.
func (v EventsVersion) Stamp(from, to int64) RowsStamp {
	if !v.inside(from, to) {
		return RowsStamp{}
	}
	s := RowsStamp{id: v.id, horizon: v.horizon, valid: true}
	for _, p := range v.parts {
		if p.minTime <= to && p.maxTime >= from {
			s.covering = append(s.covering, blockRange{partition: p.partition, min: p.minBlock, max: p.maxBlock})
		}
	}
	return s
}

// Unchanged reports whether the rows with ts in [from, to] are, in this snapshot, the same events
// as when s was stamped for the same range (see EventsVersion for why).
func (v EventsVersion) Unchanged(s RowsStamp, from, to int64) bool {
	if !s.valid || !v.inside(from, to) || !v.id.same(s.id) || v.horizon < s.horizon {
		return false
	}
	for _, p := range v.parts {
		if p.minTime <= to && p.maxTime >= from && (p.maxBlock > s.horizon || p.version > s.horizon) {
			return false // an insert or a mutation since the stamp
		}
	}
	for _, c := range s.covering {
		if !slices.ContainsFunc(v.parts, func(p eventsPart) bool {
			return p.partition == c.partition && p.minBlock <= c.min && c.max <= p.maxBlock
		}) {
			return false // removed
		}
	}
	return true
}

// Parts returns how many parts the snapshot holds (for logs and tests).
func (v EventsVersion) Parts() int { return len(v.parts) }
