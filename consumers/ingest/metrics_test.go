package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

type fakeLag struct{ lag int64 }

func (f fakeLag) Lag() int64 { return f.lag }

// dead is a dead letter with error header reason.
func dead(reason string) kafka.Message {
	return deadLetter(&kafka.Message{Topic: "t"}, reason)
}

func TestMetricsReadStats(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := &Stats{}
	if err := RegisterMetrics(reg, s, fakeLag{lag: 42}); err != nil {
		t.Fatal(err)
	}
	s.add(&batch{valid: 7, dead: []kafka.Message{dead("ts: 3 days in the future"), dead("not JSON: unexpected end")}, bytes: 900}, 1500*time.Millisecond)
	s.add(&batch{valid: 1, dead: []kafka.Message{dead("ts: missing")}}, 20*time.Millisecond)
	s.add(&batch{dead: []kafka.Message{dead("empty value"), dead(`kind: "dance" is not a kind`)}}, time.Minute)
	s.GivenUp.Add(4)
	want := `
# HELP spacepulse_consumer_given_up_total Valid events not inserted because their partition was revoked or lost while the batch waited to land; the new owner lands them.
# TYPE spacepulse_consumer_given_up_total counter
spacepulse_consumer_given_up_total 4
# HELP spacepulse_consumer_events_total Valid events inserted into ClickHouse and committed.
# TYPE spacepulse_consumer_events_total counter
spacepulse_consumer_events_total 8
# HELP spacepulse_consumer_lag_messages Messages the consumer group has not committed, summed over the topic's partitions (from the broker: end offsets minus committed offsets; the same on every member).
# TYPE spacepulse_consumer_lag_messages gauge
spacepulse_consumer_lag_messages 42
# HELP spacepulse_consumer_land_seconds_total Time spent writing dead letters and inserting batches.
# TYPE spacepulse_consumer_land_seconds_total counter
spacepulse_consumer_land_seconds_total 61.52
# HELP spacepulse_consumer_land_duration_seconds Time landing a batch took (dead letters and insert, retries included), per batch.
# TYPE spacepulse_consumer_land_duration_seconds histogram
spacepulse_consumer_land_duration_seconds_bucket{le="0.005"} 0
spacepulse_consumer_land_duration_seconds_bucket{le="0.01"} 0
spacepulse_consumer_land_duration_seconds_bucket{le="0.025"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="0.05"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="0.1"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="0.25"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="0.5"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="1"} 1
spacepulse_consumer_land_duration_seconds_bucket{le="2.5"} 2
spacepulse_consumer_land_duration_seconds_bucket{le="5"} 2
spacepulse_consumer_land_duration_seconds_bucket{le="10"} 2
spacepulse_consumer_land_duration_seconds_bucket{le="30"} 2
spacepulse_consumer_land_duration_seconds_bucket{le="+Inf"} 3
spacepulse_consumer_land_duration_seconds_sum 61.52
spacepulse_consumer_land_duration_seconds_count 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacepulse_consumer_events_total", "spacepulse_consumer_given_up_total",
		"spacepulse_consumer_lag_messages", "spacepulse_consumer_land_seconds_total", "spacepulse_consumer_land_duration_seconds"); err != nil {
		t.Fatal(err)
	}
	// Dead letters by the field at fault; a reason that names no field of the contract is the
	// value's.
	f := func(reason string, want float64) {
		t.Helper()
		got := testutil.ToFloat64(deadCounter{reg, reason})
		if got != want {
			t.Fatalf("dead_letters_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	f("ts", 2)
	f("kind", 1)
	f("value", 2)
	f("user_id", 0)
	if n := s.DeadLetters("ts") + s.DeadLetters("kind") + s.DeadLetters("value"); n != 5 || s.Invalid.Load() != 5 {
		t.Fatalf("dead letters by reason sum to %d, Invalid = %d; want 5 and 5", n, s.Invalid.Load())
	}
	// 13 unlabelled series, 18 reasons, the histogram.
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 13+len(deadReasons)+1 {
		t.Fatalf("%d metrics (%v), want %d", n, err, 13+len(deadReasons)+1)
	}
}

// deadCounter collects one reason's series of dead_letters_total from a registry.
type deadCounter struct {
	reg    *prometheus.Registry
	reason string
}

func (d deadCounter) Describe(chan<- *prometheus.Desc) {}
func (d deadCounter) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := d.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "spacepulse_consumer_dead_letters_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == d.reason {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
			}
		}
	}
}
