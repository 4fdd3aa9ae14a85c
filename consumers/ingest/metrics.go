package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// lagger is the part of the consumer-group client the metrics read: the messages between
// its last fetch and the end of the partitions it fetched (GroupReader.Lag).
type lagger interface {
	Lag() int64
}

// RegisterMetrics registers the pipeline's counters on reg as Prometheus
// metrics, read from s at scrape time: events, dead letters, batches,
// retries, time spent landing batches, the last commit, and (when r is not
// nil) the consumer's lag in messages.
func RegisterMetrics(reg prometheus.Registerer, s *Stats, r lagger) error {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{
		counter("events_total", "Valid events inserted into ClickHouse and committed.", func() float64 { return float64(s.Events.Load()) }),
		counter("dead_letters_total", "Invalid events written to the dead-letter topic and committed.", func() float64 { return float64(s.Invalid.Load()) }),
		counter("duplicates_total", "Valid events dropped because they had landed already (retries, redeliveries), and committed.",
			func() float64 { return float64(s.Duplicates.Load()) }),
		counter("lookups_total", "Events older than the landed-event index covers, looked up in ClickHouse before the insert.",
			func() float64 { return float64(s.Lookups.Load()) }),
		counter("index_loads_total", "Loads of the landed-event index from ClickHouse (at start, after partitions were assigned).",
			func() float64 { return float64(s.Loads.Load()) }),
		counter("copy_sweeps_total", "Copy sweeps run (another member of the group was alive): the minutes landed checked for copies both landed.",
			func() float64 { return float64(s.Sweeps.Load()) }),
		counter("copy_repair_rows_total", "Rollup rows corrected by copy sweeps (an event two members both landed, counted twice until then).",
			func() float64 { return float64(s.SweepRepairs.Load()) }),
		counter("batches_total", "Batches landed (dead letters, insert, commit).", func() float64 { return float64(s.Batches.Load()) }),
		counter("value_bytes_total", "Kafka value bytes committed.", func() float64 { return float64(s.Bytes.Load()) }),
		counter("retries_total", "Failed attempts of an insert, dead-letter write or commit that were retried.", func() float64 { return float64(s.Retries()) }),
		counter("land_seconds_total", "Time spent writing dead letters and inserting batches.", func() float64 { return float64(s.InsertNS.Load()) / 1e9 }),
		gauge("last_commit_timestamp_seconds", "Unix time of the last committed batch (0 before the first).", func() float64 {
			if t := s.LastCommit(); !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		}),
	}
	if r != nil {
		cs = append(cs, gauge("lag_messages", "Messages between the reader's position and the end of its partitions.",
			func() float64 { return float64(r.Lag()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
