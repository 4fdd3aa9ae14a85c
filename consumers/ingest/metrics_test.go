package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

type fakeLag struct{ lag int64 }

func (f fakeLag) Lag() int64 { return f.lag }

func TestMetricsReadStats(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := &Stats{}
	if err := RegisterMetrics(reg, s, fakeLag{lag: 42}); err != nil {
		t.Fatal(err)
	}
	s.add(&batch{valid: 7, dead: make([]kafka.Message, 2), bytes: 900}, 1500000000)
	want := `
# HELP spacepulse_consumer_dead_letters_total Invalid events written to the dead-letter topic and committed.
# TYPE spacepulse_consumer_dead_letters_total counter
spacepulse_consumer_dead_letters_total 2
# HELP spacepulse_consumer_events_total Valid events inserted into ClickHouse and committed.
# TYPE spacepulse_consumer_events_total counter
spacepulse_consumer_events_total 7
# HELP spacepulse_consumer_lag_messages Messages between the reader's position and the end of its partitions.
# TYPE spacepulse_consumer_lag_messages gauge
spacepulse_consumer_lag_messages 42
# HELP spacepulse_consumer_land_seconds_total Time spent writing dead letters and inserting batches.
# TYPE spacepulse_consumer_land_seconds_total counter
spacepulse_consumer_land_seconds_total 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacepulse_consumer_events_total",
		"spacepulse_consumer_dead_letters_total", "spacepulse_consumer_lag_messages", "spacepulse_consumer_land_seconds_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 13 {
		t.Fatalf("%d metrics (%v), want 13", n, err)
	}
}
