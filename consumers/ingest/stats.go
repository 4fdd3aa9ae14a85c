package ingest

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
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
	// GivenUp are valid events not inserted because their partition was revoked or lost while
	// the batch waited to land (a ClickHouse outage during a rebalance): their new owner lands
	// them (see givenup.go).
	GivenUp atomic.Int64
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

	deadBy [len(deadReasons)]atomic.Int64 // dead letters committed, by deadReasons
	// landHist counts batches by the time landing them took (dead letters + insert): landHist[i]
	// those of at most landBuckets[i] seconds, the last those above every bucket.
	landHist [len(landBuckets) + 1]atomic.Int64
	landSum  atomic.Int64 // nanoseconds, the histogram's sum
}

// deadReasons are the labels dead letters are counted by: the event field at fault (the JSON
// names of the contract, schemas/README.md), or "value" when the value as a whole is (not JSON or
// Protobuf, empty, an unknown content type). A bounded set, so each is one series.
var deadReasons = [...]string{"value", "event_id", "session_id", "kind", "ts", "space_id", "user_id", "role", "client",
	"app_version", "region", "country", "join_ms", "attempt", "reason", "phase", "code", "http_status"}

// landBuckets are the upper bounds, in seconds, of the land-time histogram: a healthy insert of a
// 50k batch takes tens of milliseconds, a retried one seconds.
var landBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// deadReason is the label of dead letter m: the field named before ": " in its error header
// (schemas.InvalidError), if it is one of deadReasons, else "value".
func deadReason(m *kafka.Message) int {
	for _, h := range m.Headers {
		if h.Key != "error" {
			continue
		}
		field, _, ok := strings.Cut(string(h.Value), ": ")
		if !ok {
			return 0
		}
		for i, r := range deadReasons {
			if r == field {
				return i
			}
		}
	}
	return 0
}

// DeadLetters is the dead letters committed with reason (see deadReasons), 0 for an unknown one.
func (s *Stats) DeadLetters(reason string) int64 {
	for i, r := range deadReasons {
		if r == reason {
			return s.deadBy[i].Load()
		}
	}
	return 0
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
	for i := range b.dead {
		s.deadBy[deadReason(&b.dead[i])].Add(1)
	}
	bucket := len(landBuckets)
	for i, le := range landBuckets {
		if took.Seconds() <= le {
			bucket = i
			break
		}
	}
	s.landHist[bucket].Add(1)
	s.landSum.Add(int64(took))
	s.lastBatch.Store(time.Now().UnixNano())
}
