package plugin

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// alertState answers queryType alertState: the page of sql/README.md per room, from
// warehouse.AlertState (queries/alert_state.sql), the query the report's alert timeline reads, so
// the provisioned rule only thresholds `firing` and cannot disagree with the report. Each room is
// evaluated from its first event (a page stays firing through quiet minutes, so the state at the
// time range's start depends on what came before), and minutes are judged only once the ingest
// watermark says the consumers have landed them. One frame per room, the minutes of the time
// range: firing (1 or 0, the state after the minute), and for panels the minute's rate,
// attempts, technical failures, whether it was complete and its state. Grafana's alert engine
// gets firing only, so each room is one alert instance.
func (d *Datasource) alertState(ctx context.Context, conn driver.Conn, r request, fromAlert bool) (data.Frames, error) {
	rooms, err := d.rooms(ctx, conn, r)
	if err != nil {
		return nil, err
	}
	minutes := int64(r.to.Sub(r.from)/time.Minute) + 1
	if n := minutes * int64(len(rooms)); n > int64(d.settings.RowLimit) {
		return nil, backend.DownstreamErrorf("%d rooms x %d minutes is over the row limit %d: narrow the time range or pick rooms",
			len(rooms), minutes, d.settings.RowLimit)
	}
	wm, err := warehouse.IngestWatermark(ctx, conn)
	if err != nil {
		return nil, err
	}
	rule := warehouse.PageRule
	var frames data.Frames
	for _, room := range rooms {
		first, _, err := warehouse.Bounds(ctx, conn, room)
		if err != nil {
			return nil, err
		}
		from := first
		if earliest := r.to.Add(-warehouse.MaxWindow); from.Before(earliest) {
			from = earliest
		}
		if from.After(r.to) {
			from = r.to // the room starts after the range: nothing to judge, not firing
		}
		ms, err := warehouse.AlertState(ctx, conn, room, from, r.to, rule, wm)
		if err != nil {
			return nil, err
		}
		var (
			times            []time.Time
			firing           []float64
			rate             []*float64
			attempts, failed []int64
			complete         []bool
			state            []string
		)
		for _, m := range ms {
			if m.Start.Before(r.from.Truncate(time.Minute)) {
				continue // before the range: evaluated for the state it leaves, not shown
			}
			times = append(times, m.Start)
			firing = append(firing, b2f(m.Firing))
			rate = append(rate, m.Rate)
			attempts = append(attempts, m.Attempts)
			failed = append(failed, m.TechnicalFailures)
			complete = append(complete, m.Complete)
			state = append(state, m.State)
		}
		labels := data.Labels{"room": room}
		fire := data.NewField("firing", labels, firing)
		fire.Config = &data.FieldConfig{DisplayNameFromDS: room}
		fields := []*data.Field{data.NewField("time", nil, times), fire}
		if !fromAlert {
			rf := data.NewField("rate", labels, rate)
			rf.Config = &data.FieldConfig{Unit: "percentunit", NoValue: "not enough data"}
			fields = append(fields, rf,
				data.NewField("attempts", labels, attempts),
				data.NewField("technical_failures", labels, failed),
				data.NewField("complete", labels, complete),
				data.NewField("state", labels, state))
		}
		f := data.NewFrame("alertState", fields...)
		f.Meta = &data.FrameMeta{ExecutedQueryString: "sql/queries/alert_state.sql over sql/queries/ingest_watermark.sql"}
		if wm.Known {
			f.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityInfo,
				Text: "minutes are judged once the consumers have landed them: watermark " + wm.At.Format(time.RFC3339) + ", lateness " + rule.Lateness.String()}}
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 {
		frames = data.Frames{data.NewFrame(TypeAlertState)}
	}
	return frames, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
