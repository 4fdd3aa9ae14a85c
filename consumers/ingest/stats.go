package ingest

import (
	"sync/atomic"
	"time"
)

// Stats counts what the pipeline landed. Fields are read with Load while the
// pipeline runs.
type Stats struct {
	Batches atomic.Int64 // batches committed
	Events  atomic.Int64 // valid events inserted and committed
	Invalid atomic.Int64 // events sent to the dead-letter topic and committed
	// Duplicates are valid events not inserted because they had landed already (a producer
	// retry, a redelivery after a crash or rebalance), and committed.
	Duplicates atomic.Int64
	// Lookups are events older than the landed-event index covers, looked up in ClickHouse.
	Lookups atomic.Int64
	// Loads are loads of the landed-event index from ClickHouse (at start, after rebalances).
	Loads atomic.Int64
	// Sweeps are copy sweeps run (another member was alive); SweepRepairs the rollup rows they
	// corrected (copies that two members both landed, counted twice until then).
	Sweeps       atomic.Int64
	SweepRepairs atomic.Int64
	Bytes        atomic.Int64 // Kafka value bytes committed
	InsertNS     atomic.Int64 // total time spent landing batches (dead letters + insert)
	retries      atomic.Int64
	lastBatch    atomic.Int64 // unix nanoseconds of the last commit
}

// Retries is the number of failed attempts that were retried.
func (s *Stats) Retries() int64 { return s.retries.Load() }

// LastCommit is when the last batch was committed (zero before the first).
func (s *Stats) LastCommit() time.Time {
	ns := s.lastBatch.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (s *Stats) add(b *batch, took time.Duration) {
	s.Batches.Add(1)
	s.Events.Add(int64(b.valid))
	s.Invalid.Add(int64(len(b.dead)))
	s.Duplicates.Add(int64(b.duplicates))
	s.Lookups.Add(int64(b.lookups))
	s.Bytes.Add(int64(b.bytes))
	s.InsertNS.Add(int64(took))
	s.lastBatch.Store(time.Now().UnixNano())
}
