package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// lagger is what the lag metrics read: the consumer group's lag in messages (LagPoller.Lag, from
// the broker; the fetch's own view froze while back-pressure stopped the fetch, and is gone).
type lagger interface {
	Lag() int64
}

// partitionLagger also gives each partition's lag in messages and seconds (LagPoller).
type partitionLagger interface {
	Partitions() []PartitionLag
}

var (
	_ lagger          = (*LagPoller)(nil)
	_ partitionLagger = (*LagPoller)(nil)
)

// RegisterMetrics registers the pipeline's counters on reg as Prometheus
// metrics, read from s at scrape time: events, dead letters by reason, batches,
// retries, time spent landing batches (a total and a histogram), the last
// commit, and (when r is not nil) the lag in messages; when r is a LagPoller,
// also each partition's lag in messages and seconds and the largest in seconds.
func RegisterMetrics(reg prometheus.Registerer, s *Stats, r lagger) error {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{
		counter("events_total", "Valid events inserted into ClickHouse and committed.", func() float64 { return float64(s.Events.Load()) }),
		counter("duplicates_total", "Valid events dropped because they had landed already (retries, redeliveries), and committed.",
			func() float64 { return float64(s.Duplicates.Load()) }),
		counter("given_up_total", "Valid events not inserted because their partition was revoked or lost while the batch waited to land; the new owner lands them.",
			func() float64 { return float64(s.GivenUp.Load()) }),
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
	dead := prometheus.NewDesc("spacepulse_consumer_dead_letters_total",
		"Invalid events written to the dead-letter topic and committed, by the event field at fault (value: the value as a whole).",
		[]string{"reason"}, nil)
	land := prometheus.NewDesc("spacepulse_consumer_land_duration_seconds",
		"Time landing a batch took (dead letters and insert, retries included), per batch.", nil, nil)
	cs = append(cs, collectorFunc{descs: []*prometheus.Desc{dead, land}, collect: func(ch chan<- prometheus.Metric) {
		for i, reason := range deadReasons {
			ch <- prometheus.MustNewConstMetric(dead, prometheus.CounterValue, float64(s.deadBy[i].Load()), reason)
		}
		buckets := make(map[float64]uint64, len(landBuckets))
		var n uint64
		for i, le := range landBuckets {
			n += uint64(s.landHist[i].Load())
			buckets[le] = n
		}
		n += uint64(s.landHist[len(landBuckets)].Load())
		ch <- prometheus.MustNewConstHistogram(land, n, float64(s.landSum.Load())/1e9, buckets)
	}})
	if r != nil {
		cs = append(cs, gauge("lag_messages", "Messages the consumer group has not committed, summed over the topic's partitions (from the broker: end offsets minus committed offsets; the same on every member).",
			func() float64 { return float64(r.Lag()) }))
	}
	if pl, ok := r.(partitionLagger); ok {
		msgs := prometheus.NewDesc("spacepulse_consumer_partition_lag_messages",
			"Messages the consumer group has not committed in a partition (end offset minus committed offset, from the broker).", []string{"partition"}, nil)
		secs := prometheus.NewDesc("spacepulse_consumer_partition_lag_seconds",
			"Age of a partition's oldest uncommitted message: time since the lag poller first saw it (precise to one poll interval).", []string{"partition"}, nil)
		cs = append(cs, gauge("lag_seconds", "Age of the consumer group's oldest uncommitted message, over every partition (what /readyz bounds).",
			func() float64 {
				var a float64
				for _, p := range pl.Partitions() {
					a = max(a, p.Age.Seconds())
				}
				return a
			}),
			collectorFunc{descs: []*prometheus.Desc{msgs, secs}, collect: func(ch chan<- prometheus.Metric) {
				for _, p := range pl.Partitions() {
					label := strconv.Itoa(int(p.Partition))
					ch <- prometheus.MustNewConstMetric(msgs, prometheus.GaugeValue, float64(p.Messages), label)
					ch <- prometheus.MustNewConstMetric(secs, prometheus.GaugeValue, p.Age.Seconds(), label)
				}
			}})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// RegisterReaderMetrics registers what the group reader counts: the partitions it owns and the
// commits it left out because their partition was revoked.
func RegisterReaderMetrics(reg prometheus.Registerer, r *GroupReader) error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "partitions_owned",
			Help: "Partitions assigned to this member of the consumer group."}, func() float64 { return float64(r.Owned()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "spacepulse", Subsystem: "consumer", Name: "revoked_commits_dropped_total",
			Help: "Partition commits left out because the partition was revoked before its batch landed (the new owner reads it again)."},
			func() float64 { return float64(r.DroppedCommits()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// collectorFunc is a collector of labelled series computed at scrape time.
type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
