package plugin

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// alertState answers queryType alertState: one of the pages of sql/README.md (Query.Rule: the
// join-failure rate by default, retry amplification, or a fall of concurrent listeners) per room,
// from warehouse.AlertState (queries/alert_state.sql), the query the report's alert timelines
// read, so a provisioned rule only thresholds `firing` and cannot disagree with the report. Each room is
// evaluated from its first event (a page stays firing through quiet minutes, so the state at the
// time range's start depends on what came before), and minutes are judged only once the ingest
// watermark says the consumers have landed them. One frame per room, the minutes of the time
// range: firing (1 or 0, the state after the minute), and for panels the minute's figure, the
// two counts behind it (warehouse.AlertRule.Counts), whether it was complete and its state. Grafana's alert engine
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
	rule := alertRules[r.Rule]
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
		ms, computed, err := d.roomAlertState(ctx, conn, room, from, r.to, rule, wm)
		if err != nil {
			return nil, err
		}
		var (
			times    []time.Time
			firing   []float64
			value    []*float64
			counts   [2][]int64
			complete []bool
			state    []string
		)
		for _, m := range ms {
			if m.Start.Before(r.from.Truncate(time.Minute)) {
				continue // before the range: evaluated for the state it leaves, not shown
			}
			times = append(times, m.Start)
			firing = append(firing, b2f(m.Firing))
			value = append(value, m.Value)
			counts[0] = append(counts[0], m.Counts[0])
			counts[1] = append(counts[1], m.Counts[1])
			complete = append(complete, m.Complete)
			state = append(state, m.State)
		}
		labels := data.Labels{"room": room}
		fire := data.NewField("firing", labels, firing)
		fire.Config = &data.FieldConfig{DisplayNameFromDS: room}
		fields := []*data.Field{data.NewField("time", nil, times), fire}
		if !fromAlert {
			vf := data.NewField(rule.Value, labels, value)
			vf.Config = &data.FieldConfig{NoValue: "no data"}
			if rule.Value != warehouse.RetryRule.Value { // a rate or a fall
				vf.Config.Unit = "percentunit"
			}
			fields = append(fields, vf,
				data.NewField(rule.Counts[0], labels, counts[0]),
				data.NewField(rule.Counts[1], labels, counts[1]),
				data.NewField("complete", labels, complete),
				data.NewField("state", labels, state))
		}
		f := data.NewFrame("alertState", fields...)
		f.Meta = &data.FrameMeta{ExecutedQueryString: "sql/queries/alert_state.sql around alert_input_" + rule.Input +
			".sql, judged by sql/queries/ingest_watermark.sql"}
		if computed != nil {
			f.Meta.ExecutedQueryString = "sql/queries/alert_state.sql around alert_input_" + rule.Input +
				"_given.sql, given user_failure_rate.sql's minutes" + computed.String() + ", judged by sql/queries/ingest_watermark.sql"
			f.Meta.Stats = computed.meta()
		}
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

// roomAlertState is warehouse.AlertState of one room from from (its first event) to to. The retry
// page's figure is user_failure_rate.sql's per minute: those minutes come through the per-user
// cache (cachedUsers) and the rule runs on them (warehouse.RetryStateGiven), with stats saying how
// many minutes were computed; nil stats when the page was read whole from events (another rule,
// a window the cache cannot serve, or more minutes with attempts than RetryStateGiven takes).
func (d *Datasource) roomAlertState(ctx context.Context, conn driver.Conn, room string, from, to time.Time,
	rule warehouse.AlertRule, wm warehouse.Watermark) ([]warehouse.AlertMinute, *userStats, error) {
	if rule.Input == warehouse.RetryRule.Input {
		from := from.UTC().Truncate(time.Minute) // as AlertState reads it
		s, stats, ok, err := d.cachedUsers(ctx, conn, room, from, to, time.Minute, false)
		if err != nil {
			return nil, nil, err
		}
		if ok && len(s.Time) <= warehouse.MaxGivenMinutes {
			ms, err := warehouse.RetryStateGiven(ctx, conn, room, from, to, wm, s.Time, s.Attempts, s.Users)
			return ms, &stats, err
		}
	}
	ms, err := warehouse.AlertState(ctx, conn, room, from, to, rule, wm)
	return ms, nil, err
}

// Values of Query.Rule: which page alertState evaluates.
const (
	AlertJoinFailureRate    = "joinFailureRate"
	AlertRetryAmplification = "retryAmplification"
	AlertCCLDrop            = "cclDrop"
)

// alertRules maps Query.Rule to the warehouse's rule ("" is the join-failure page).
var alertRules = map[string]warehouse.AlertRule{
	"":                      warehouse.PageRule,
	AlertJoinFailureRate:    warehouse.PageRule,
	AlertRetryAmplification: warehouse.RetryRule,
	AlertCCLDrop:            warehouse.CrashRule,
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
